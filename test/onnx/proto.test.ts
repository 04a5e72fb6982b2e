// The hand-written protobuf encoder, byte for byte on small messages (onnxruntime loading
// every model in the other tests is the end-to-end check).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel, OnnxDataType, type ModelProtoSpec } from '../../src/onnx/proto.ts';

function model(nodeAttrs: ModelProtoSpec['graph']['nodes'][number]['attrs']): ModelProtoSpec {
  return {
    irVersion: 10,
    opsets: [{ domain: '', version: 21 }],
    producerName: 'p',
    producerVersion: '1',
    graph: {
      name: 'g',
      nodes: [{ opType: 'Softmax', domain: '', name: 'n', inputs: ['x'], outputs: ['y'], attrs: nodeAttrs }],
      initializers: [{ name: 'w', dataType: OnnxDataType.FLOAT, dims: [2], external: { location: 'd', offset: 4096, length: 8 } }],
      inputs: [{ name: 'x', dataType: OnnxDataType.FLOAT, shape: ['batch', 3, null] }],
      outputs: [],
    },
  };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('ModelProto header fields and opset', () => {
  const b = encodeModel(model({}));
  // ir_version (1) = 10, producer_name (2) = "p", producer_version (3) = "1"
  assert.equal(hex(b.subarray(0, 8)), '080a' + '120170' + '1a0131');
  // opset_import (8): {domain "", version 21} is the last field
  assert.equal(hex(b.subarray(b.length - 6)), '4204' + '0a00' + '1015');
});

test('negative int attributes are 10-byte two\'s complement varints; floats are fixed32', () => {
  const b = hex(encodeModel(model({ axis: { kind: 'int', value: -1 }, epsilon: { kind: 'float', value: 1.5 } })));
  // AttributeProto: name "axis", i (3) = -1, type (20) = INT (2)
  assert.ok(b.includes('0a0461786973' + '18ffffffffffffffffff01' + 'a00102'), b);
  // name "epsilon", f (2) = 1.5f (0x3fc00000 little endian), type FLOAT (1)
  assert.ok(b.includes('0a07657073696c6f6e' + '150000c03f' + 'a00101'), b);
});

test('external data entries and symbolic dims', () => {
  const b = hex(encodeModel(model({})));
  const entry = (k: string, v: string) => {
    const kv = '0a' + k.length.toString(16).padStart(2, '0') + Buffer.from(k).toString('hex') + '12' + v.length.toString(16).padStart(2, '0') + Buffer.from(v).toString('hex');
    return '6a' + (kv.length / 2).toString(16).padStart(2, '0') + kv;
  };
  assert.ok(b.includes(entry('location', 'd') + entry('offset', '4096') + entry('length', '8') + '7001'), 'external_data + data_location EXTERNAL');
  // dim_param "batch", dim_value 3, and an unknown dim (empty Dimension)
  assert.ok(b.includes('0a07' + '1205' + Buffer.from('batch').toString('hex') + '0a02' + '0803' + '0a00'), b);
});
