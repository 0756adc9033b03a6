/* global process, fetch */
// Sends forged webhook deliveries to a URL from its own process (an attacker is not in the
// runtime's process), as fast as CONCURRENCY loops can, for SECONDS; prints its counts as JSON.
const [url, seconds = '30', concurrency = '32'] = process.argv.slice(2);
const counts = { sent: 0, throttled: 0, refused: 0, other: 0, seconds: 0 };
const body = JSON.stringify({
  id: 'evt_forged',
  type: 'file.download_ready',
  data: { file: { fileId: 'vg_file_x' } },
});
const until = Date.now() + Number(seconds) * 1000;
const started = Date.now();
async function loop() {
  while (Date.now() < until) {
    const answer = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': `msg_${counts.sent}`,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,Zm9yZ2VkIHNpZ25hdHVyZQ==',
      },
      body,
    }).catch(() => undefined);
    counts.sent += 1;
    if (answer?.status === 429) counts.throttled += 1;
    else if (answer && answer.status >= 400 && answer.status < 500) counts.refused += 1;
    else counts.other += 1;
    await answer?.arrayBuffer().catch(() => undefined);
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
counts.seconds = (Date.now() - started) / 1000;
process.stdout.write(`${JSON.stringify(counts)}\n`);
