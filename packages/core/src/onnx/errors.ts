/** A model file that cannot be read as ONNX: names the file and what is wrong. */
export class OnnxFormatError extends Error {
  readonly file: string;
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'OnnxFormatError';
    this.file = file;
  }
}
