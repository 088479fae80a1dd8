// ONNX Runtime (npm onnxruntime-node) on one model and one .npy of input
// rows, for tools/bench/peers.py: timed here, inside the process, so node's
// start-up and the session's creation are not counted.
//
//   node ort_driver.mjs --ort DIR --model M.onnx --input X.npy
//        [--threads 1,2] [--batches 4096,0] [--repeat 2] [--out Y.bin]
//        [--latency 1,16,256,4096 --seconds 0.2]
//
// DIR is the folder holding node_modules/onnxruntime-node. For each intra-op
// thread count and rows-per-call batch (0: the whole input in one call) it
// makes one session (sequential, one inter-op thread, all graph
// optimizations), runs one untimed pass over the input and then `repeat`
// timed ones, and reports each pass's rows/s. The first setting's output is
// written to --out (raw little-endian, the model's dtype); every other
// setting's output is compared with it (max_abs_diff). With --latency it
// instead reports the mean microseconds of session.run (awaited) on the
// first R rows, called back to back for about --seconds. Prints one JSON
// object on stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

function parseArgs(argv) {
  const a = { threads: '1,2', batches: '0', repeat: '2', seconds: '0.2' };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`ort_driver: bad argument '${argv[i]}'`);
    }
    a[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['ort', 'model', 'input']) {
    if (!a[k]) throw new Error(`ort_driver: --${k} is required`);
  }
  const ints = (s) => s.split(',').map((x) => parseInt(x, 10));
  return {
    ...a, threads: ints(a.threads), batches: ints(a.batches),
    repeat: parseInt(a.repeat, 10), seconds: parseFloat(a.seconds),
    latency: a.latency ? ints(a.latency) : null,
  };
}

// A 2-D little-endian f4/f8 C-order .npy: {type, rows, cols, data}.
function readNpy(file) {
  const buf = readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    throw new Error(`ort_driver: ${file}: not a .npy file`);
  }
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (/'fortran_order':\s*True/.test(header) || !shape) {
    throw new Error(`ort_driver: ${file}: expected a 2-D C-order array`);
  }
  const types = { '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array] };
  if (!types[descr]) throw new Error(`ort_driver: ${file}: dtype ${descr}`);
  const [type, Arr] = types[descr];
  // A copy: the Buffer's offset need not be aligned for a typed array.
  const bytes = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
  return { type, Arr, rows: +shape[1], cols: +shape[2], data: new Arr(bytes) };
}

async function newSession(ort, model, threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
}

// One pass over all rows, `batch` rows a call; the outputs in row order.
async function pass(ort, session, x, batch) {
  const inName = session.inputNames[0], outName = session.outputNames[0];
  const step = batch > 0 ? batch : x.rows;
  const parts = [];
  for (let r = 0; r < x.rows; r += step) {
    const n = Math.min(step, x.rows - r);
    const input = new ort.Tensor(x.type, x.data.subarray(r * x.cols, (r + n) * x.cols), [n, x.cols]);
    const out = await session.run({ [inName]: input });
    parts.push(out[outName].data);
  }
  return parts;
}

function concat(parts, Arr) {
  const out = new Arr(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function throughput(ort, a, x) {
  const points = [];
  let first = null;
  for (const threads of a.threads) {
    for (const batch of a.batches) {
      const session = await newSession(ort, a.model, threads);
      const y = concat(await pass(ort, session, x, batch), x.Arr);
      let diff = 0;
      if (first === null) {
        first = y;
        if (a.out) writeFileSync(a.out, new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
      } else {
        for (let i = 0; i < y.length; ++i) diff = Math.max(diff, Math.abs(y[i] - first[i]));
        if (y.length !== first.length) diff = Infinity;
      }
      const rates = [];
      for (let k = 0; k < a.repeat; ++k) {
        const t = process.hrtime.bigint();
        await pass(ort, session, x, batch);
        rates.push(x.rows / (Number(process.hrtime.bigint() - t) / 1e9));
      }
      points.push({ threads, batch: batch > 0 ? batch : x.rows, rows_per_s: rates, max_abs_diff: diff });
      await session.release();
    }
  }
  return points;
}

async function latency(ort, a, x) {
  const points = [];
  for (const threads of a.threads) {
    const session = await newSession(ort, a.model, threads);
    const inName = session.inputNames[0];
    for (const rows of a.latency) {
      const input = new ort.Tensor(x.type, x.data.subarray(0, rows * x.cols), [rows, x.cols]);
      for (let k = 0; k < 10; ++k) await session.run({ [inName]: input });
      let calls = 0;
      const t = process.hrtime.bigint();
      let ns = 0;
      while (ns < a.seconds * 1e9) {
        for (let k = 0; k < 16; ++k) await session.run({ [inName]: input });
        calls += 16;
        ns = Number(process.hrtime.bigint() - t);
      }
      points.push({ threads, rows, us: ns / calls / 1e3 });
    }
    await session.release();
  }
  return points;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const require = createRequire(path.join(path.resolve(a.ort), 'package.json'));
  const ort = require('onnxruntime-node');
  const x = readNpy(a.input);
  const points = a.latency ? await latency(ort, a, x) : await throughput(ort, a, x);
  process.stdout.write(JSON.stringify({ version: ort.env.versions.node, points }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
