"""Replace FlexRandomUniform (dropout noise) with builtin FILL(shape, VALUE) so the model runs on LiteRT without TF."""
import sys, numpy as np, flatbuffers
from ai_edge_litert import schema_py_generated as S
src, dst, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
buf = open(src, 'rb').read()
m = S.ModelT.InitFromObj(S.Model.GetRootAsModel(buf, 0))
g = m.subgraphs[0]
# add FILL opcode
fill = S.OperatorCodeT(); fill.builtinCode = S.BuiltinOperator.FILL; fill.deprecatedBuiltinCode = S.BuiltinOperator.FILL; fill.version = 1
m.operatorCodes.append(fill); fill_idx = len(m.operatorCodes) - 1
# scalar float tensor holding VALUE
b = S.BufferT(); b.data = np.frombuffer(np.float32(value).tobytes(), np.uint8); m.buffers.append(b)
t = S.TensorT(); t.shape = np.array([], np.int32); t.type = S.TensorType.FLOAT32; t.buffer = len(m.buffers) - 1; t.name = b'patched_uniform_value'
g.tensors.append(t); val_idx = len(g.tensors) - 1
def name_of(op):
    c = m.operatorCodes[op.opcodeIndex]; return (c.customCode or b'').decode()
for i, op in enumerate(g.operators):
    if name_of(op) == 'FlexRandomUniform':
        # find the rate it is compared against
        for op2 in g.operators:
            if op.outputs[0] in list(op2.inputs):
                y = g.tensors[op2.inputs[1]]; data = m.buffers[y.buffer].data
                print('node', i, 'compared with', y.name.decode(), np.frombuffer(bytes(data), np.float32) if data is not None else None)
        op.opcodeIndex = fill_idx; op.inputs = np.array([op.inputs[0], val_idx], np.int32)
        op.customOptions = None; op.builtinOptionsType = S.BuiltinOptions.FillOptions; op.builtinOptions = S.FillOptionsT()
    elif name_of(op).startswith('Flex'):
        print('other flex op left:', name_of(op))
bld = flatbuffers.Builder(len(buf) + 1024); bld.Finish(m.Pack(bld), file_identifier=b'TFL3')
open(dst, 'wb').write(bld.Output()); print('wrote', dst)
# optional: make the always-on dropout equal to its expectation (mask all ones, scale 1/keep -> 1)
if len(sys.argv) > 4 and sys.argv[4] == 'expect':
    m = S.ModelT.InitFromObj(S.Model.GetRootAsModel(open(dst, 'rb').read(), 0)); g = m.subgraphs[0]
    for t in g.tensors:
        if t.name.decode().endswith('dropout/Const') and t.buffer and m.buffers[t.buffer].data is not None:
            old = np.frombuffer(bytes(m.buffers[t.buffer].data), np.float32)
            print('scale', t.name.decode(), old, '-> 1.0')
            m.buffers[t.buffer].data = np.frombuffer(np.float32(1.0).tobytes(), np.uint8)
    bld = flatbuffers.Builder(len(buf) + 1024); bld.Finish(m.Pack(bld), file_identifier=b'TFL3')
    open(dst, 'wb').write(bld.Output()); print('rewrote', dst)
