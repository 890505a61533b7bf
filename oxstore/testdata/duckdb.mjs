// Runs SQL statements with DuckDB's node package and prints, as one JSON
// array, the rows of each (as JSON-friendly objects).
//   node duckdb.mjs <folder holding node_modules/@duckdb/node-api> < statements.json
// statements.json is a JSON array of SQL strings.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.argv[2], 'index.js'));
const { DuckDBInstance } = require('@duckdb/node-api');
const statements = JSON.parse(readFileSync(0, 'utf8'));
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const out = [];
for (const sql of statements) {
  const r = await con.runAndReadAll(sql);
  out.push(r.getRowObjectsJson());
}
process.stdout.write(JSON.stringify(out));
