/**
 * Captures real Alertmanager webhook bodies for the fixtures (test/fixtures/alertmanager/): runs
 * Debian's Prometheus and Alertmanager on loopback with the rules of test/support/prometheus.ts for
 * a while and writes every body Alertmanager posts, one JSON document per line, in arrival order.
 *   node dist/scripts/capture-alertmanager.js [seconds=90] [out=test/fixtures/alertmanager/webhooks.jsonl]
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { freePort, startPeers } from '../test/support/prometheus.js';

const seconds = Number(process.argv[2] ?? 90);
const out = process.argv[3] ?? 'test/fixtures/alertmanager/webhooks.jsonl';
const port = await freePort();
const bodies: string[] = [];
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    bodies.push(JSON.stringify(JSON.parse(body)));
    process.stderr.write(`body ${bodies.length}: ${body.length} bytes\n`);
    response.writeHead(200).end();
  });
});
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
const peers = await startPeers({ url: `http://127.0.0.1:${port}/` });
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
await peers.stop();
server.close();
writeFileSync(out, bodies.join('\n') + '\n');
process.stdout.write(`wrote ${bodies.length} webhook bodies to ${out}\n`);
