// Runs SQL through Node's tedious (a real TDS driver) and prints one JSON line per statement:
// {"sql", "kind", "rows", "error", "values"}. Usage:
//   node tedious_client.mjs <host> <port> <user> <password> <encrypt:true|false> <json array of steps>
// A step is {"batch": "...", "cancel_after_ms"?: n} or {"rpc": "...", "params": [{"name": "p1", "type": "Int"|"NVarChar", "value": ...}]}.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json'));
const { Connection, Request, TYPES } = require('tedious');

const [host, port, user, password, encrypt, stepsJson] = process.argv.slice(2);
const steps = JSON.parse(stepsJson || '[]');
const conn = new Connection({
  server: host,
  options: { port: Number(port), encrypt: encrypt === 'true', trustServerCertificate: true, connectTimeout: 10000,
             requestTimeout: 10000, rowCollectionOnRequestCompletion: true },
  authentication: { type: 'default', options: { userName: user, password } },
});

function run(step) {
  return new Promise((resolve) => {
    const values = [];
    const req = new Request(step.batch ?? step.rpc, (err, rowCount) => {
      console.log(JSON.stringify({ sql: step.batch ?? step.rpc, kind: step.batch ? 'batch' : 'rpc', rows: rowCount ?? null,
                                   error: err ? String(err.message) : null, values }));
      resolve();
    });
    req.on('row', (cols) => values.push(cols.map((c) => c.value)));
    for (const p of step.params ?? []) req.addParameter(p.name, TYPES[p.type], p.value);
    if (step.batch !== undefined) conn.execSqlBatch(req);
    else conn.execSql(req);
    if (step.cancel_after_ms) setTimeout(() => conn.cancel(), step.cancel_after_ms);  // sends ATTENTION
  });
}

conn.on('connect', async (err) => {
  if (err) {
    console.log(JSON.stringify({ connect_error: String(err.message), cause: String(err.cause?.errors ?? err.cause ?? "") }));
    process.exit(2);
  }
  console.log(JSON.stringify({ connected: true }));
  for (const s of steps) await run(s);
  conn.close();
});
conn.on('end', () => process.exit(0));
conn.connect();
