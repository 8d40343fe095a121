const {onnx}=require('onnx-proto'); const fs=require('fs');
const m=onnx.ModelProto.decode(fs.readFileSync(process.argv[2]));
const g=m.graph; const c={}; for(const n of g.node){c[n.opType]=(c[n.opType]||0)+1}
console.log(process.argv[2].split('/').pop(), 'ir',m.irVersion, 'opset',JSON.stringify(m.opsetImport), 'init',g.initializer.length,'vi',g.valueInfo.length, JSON.stringify(c));
console.log(' inputs', g.input.map(i=>i.name+':'+JSON.stringify(i.type.tensorType.shape.dim.map(d=>d.dimValue??d.dimParam))).join(' '), 'outputs', g.output.map(i=>i.name).join(' '));
if(process.argv[3]) for(const n of g.node.slice(0,+process.argv[3])) console.log('  ',n.opType,n.name,n.input.join(','),'->',n.output.join(','), n.attribute.map(a=>a.name).join(','));
