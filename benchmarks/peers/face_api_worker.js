// face-api worker for benchmarks/bench_peers.py: JSON lines over stdin/stdout.
// Request: {"path": "photo.jpg"}. Reply: {"faces": [{"box": [x1, y1, x2, y2], "age": 31.2}], "ms": 12.3}
// or {"error": "..."}. "ms" is the time from decoded RGB pixels to ages (tensor, SSD MobileNet v1
// detection, 68-point landmarks, aligned crop, age/gender net); file read and JPEG decode excluded.
// Run with NODE_PATH pointing at the node_modules made by setup_peers.sh.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const jpeg = require('jpeg-js');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');

function decode(file) {
  const { width, height, data } = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
  return { width, height, data };
}

async function analyse(file, options) {
  const image = decode(file);
  const start = performance.now();
  const tensor = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  let results;
  try {
    results = await faceapi.detectAllFaces(tensor, options).withFaceLandmarks().withAgeAndGender();
  } finally {
    tensor.dispose();
  }
  const ms = performance.now() - start;
  const faces = results.map((r) => {
    const b = r.detection.box;
    return { box: [b.x, b.y, b.x + b.width, b.y + b.height], score: r.detection.score, age: r.age };
  });
  return { faces, ms };
}

async function main() {
  await tf.setBackend('wasm');
  await tf.ready();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR);
  await faceapi.nets.ageGenderNet.loadFromDisk(MODEL_DIR);
  const options = new faceapi.SsdMobilenetv1Options(); // the library's defaults (minConfidence 0.5)
  const info = { ready: true, version: `face-api ${faceapi.version}, tfjs ${tf.version_core}, backend ${tf.getBackend()}` };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let reply;
    try {
      reply = await analyse(JSON.parse(line).path, options);
    } catch (error) {
      reply = { error: String(error && error.message ? error.message : error).split('\n')[0] };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ ready: false, error: String(error && error.message ? error.message : error) })}\n`);
  process.exit(1);
});
