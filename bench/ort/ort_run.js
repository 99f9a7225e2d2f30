// bench/ort/ort_run.js MODEL.onnx INPUT.npy OUTPUT.npy RUNS [OURS.npy] -
// onnxruntime as the yardstick: ORT_THREADS intra-op threads (default
// 1), one inter-op, sequential, in-process. One
// warm-up run, then RUNS timed runs; prints {"min": ms, "median": ms, ...}
// and writes the first output as a float32 .npy. With OURS.npy (Refute's
// output for the same input) it also prints the largest absolute
// difference. Benchmark reference only, never a dependency of the engine.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const b = fs.readFileSync(path);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const hoff = major === 1 ? 10 : 12;
  const hdr = b.toString('latin1', hoff, hoff + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(hdr)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(hdr)[1]
    .split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const data = b.subarray(hoff + hlen);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  if (descr === '<f4') return new ort.Tensor('float32', new Float32Array(ab), shape);
  if (descr === '<i8') return new ort.Tensor('int64', new BigInt64Array(ab), shape);
  throw new Error('unsupported dtype ' + descr);
}

function writeNpy(path, t) {
  let hdr = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + hdr.length + 1;
  hdr += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(hdr.length, 8);
  const data = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(hdr, 'latin1'), data]));
}

(async () => {
  const [model, input, output, runsArg, ours] = process.argv.slice(2);
  const runs = Number(runsArg || 20);
  const s = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(process.env.ORT_THREADS || 1),
    interOpNumThreads: 1, executionMode: 'sequential',
  });
  const feeds = { [s.inputNames[0]]: readNpy(input) };
  let res = await s.run(feeds);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    res = await s.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const n = ms.length;
  const median = n % 2 ? ms[(n - 1) / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  const y = res[s.outputNames[0]];
  writeNpy(output, y);
  let maxdiff = null;
  if (ours) {
    const o = readNpy(ours).data;
    maxdiff = o.length === y.data.length ? 0 : Infinity;
    for (let i = 0; i < o.length && i < y.data.length; i++) {
      const d = Math.abs(o[i] - y.data[i]);
      maxdiff = d > maxdiff || Number.isNaN(d) ? d : maxdiff;
    }
  }
  console.log(JSON.stringify({ min: ms[0], median, maxdiff,
    version: ort.env.versions.common }));
})().catch((e) => { console.error(e.message); process.exit(1); });
