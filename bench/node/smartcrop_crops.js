// Bench-only: smartcrop.js crops for bench/crop_quality.py.
// stdin: JSON list of {"file", "width", "height"} (width/height: the wanted aspect).
// stdout: JSON list of {"file", "width", "height", "x", "y", "w", "h", "ms"} (crop in the
// file's pixels; the largest window of that aspect, as smartcrop's default minScale=1 gives).
"use strict";
const smartcrop = require("smartcrop-sharp");

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const jobs = JSON.parse(input);
  const out = [];
  for (const job of jobs) {
    const t0 = process.hrtime.bigint();
    const result = await smartcrop.crop(job.file, { width: job.width, height: job.height });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const c = result.topCrop;
    out.push({ ...job, x: c.x, y: c.y, w: c.width, h: c.height, ms });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
