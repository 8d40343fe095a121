export { toStronglyTyped, type StronglyTypedOptions, type StronglyTypedReport, type OutOfRange } from './strongly-typed.js';
export { floatPolicy, keepInFp32, layerNormStatistics, DEFAULT_KEEP_FP32_OPS, type FloatPolicy, type FloatPolicyInput, type KeptNode } from './policy.js';
export { FLOAT_MAX, encodeFloats, roundFloats, toFloat16Bits, toBfloat16Bits, floatTypeCode, type FloatPrecision } from './fp16.js';
export { inferElemTypes } from './elem-types.js';
export { upgradeToOpset19, LOW_PRECISION_QDQ_OPSET } from './opset19.js';
export { measureFloatRanges, type MeasureOptions } from './measure.js';
export { modelFloatType } from './float-type.js';
