// npm run bench:dashboard: the dashboard's server time at hospital scale. Seeds 10,000 patients and
// 50,000 studies into a private PostgreSQL cluster, starts the built dashboard as production runs
// it (`lascar dashboard`), signs in, then times full responses (server render + loopback transfer)
// of the patient list (first and deep pages, a search), a patient page and a study page, and
// prints p50/p95 per page. Floor (issue 9): p95 under 300 ms on a 2-core machine.
//   BENCH_PATIENTS=10000 BENCH_STUDIES_PER_PATIENT=5 BENCH_REQUESTS=40 npm run bench:dashboard
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuth } from '@lascar/auth';
import { openDatabase, seedScale } from '@lascar/db';
import { freePort } from '@lascar/pacs/orthanc';
import { startPostgres } from '@lascar/testkit';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LASCAR = path.join(REPO, 'apps/cli/bin/lascar.js');
const patients = Number(process.env.BENCH_PATIENTS ?? 10_000);
const perPatient = Number(process.env.BENCH_STUDIES_PER_PATIENT ?? 5);
const requests = Number(process.env.BENCH_REQUESTS ?? 40);
const say = (line) => process.stdout.write(`${line}\n`);

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const postgres = await startPostgres();
let dashboard;
try {
  const account = { email: 'bench@bench.local', password: randomBytes(12).toString('hex') };
  const add = spawnSync(
    process.execPath,
    [LASCAR, 'users', 'add', '--email', account.email, '--role', 'cardiologist'],
    {
      input: `${account.password}\n`,
      env: { ...process.env, DATABASE_URL: postgres.url },
      encoding: 'utf8',
    },
  );
  if (add.status !== 0) throw new Error(`lascar users add: ${add.stderr}`);
  let t = performance.now();
  const seeded = await seedScale(postgres.url, {
    patients,
    studiesPerPatient: perPatient,
    seed: 1,
  });
  say(
    `seeded ${patients} patients, ${patients * perPatient} studies in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  void seeded;

  const secret = randomBytes(32).toString('hex');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  dashboard = spawn(process.execPath, [LASCAR, 'dashboard'], {
    env: {
      ...process.env,
      DATABASE_URL: postgres.url,
      LASCAR_AUTH_SECRET: secret,
      LASCAR_DASHBOARD_PORT: String(port),
      LASCAR_DASHBOARD_URL: url,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let n = 0; ; n++) {
    try {
      if ((await fetch(`${url}/login`)).ok) break;
    } catch {
      // not yet
    }
    if (n > 300) throw new Error('the dashboard did not start');
    await new Promise((r) => setTimeout(r, 200));
  }

  // A session exactly as the login form makes one (same secret, same better-auth options).
  const db = await openDatabase({ kind: 'postgres', url: postgres.url }, { migrate: false });
  const auth = createAuth(db.prisma, {
    secret,
    baseURL: url,
    idleSeconds: 900,
    maxAgeSeconds: 43_200,
  });
  const { headers } = await auth.api.signInEmail({ body: account, returnHeaders: true });
  const cookie = headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const pick = async (sql) => (await db.prisma.$queryRawUnsafe(sql))[0].id;
  const patientRef = await pick(`SELECT id::text FROM "Patient" ORDER BY random() LIMIT 1`);
  const studyRef = await pick(`SELECT id::text FROM "Study" ORDER BY random() LIMIT 1`);
  const deepPage = Math.max(1, Math.floor(patients / 25 / 2));
  const pages = [
    ['patient list, page 1', '/patients'],
    [`patient list, page ${deepPage}`, `/patients?page=${deepPage}`],
    ['patient list, search', '/patients?q=bench'],
    ['patient page', `/patients/${patientRef}`],
    ['study page', `/studies/${studyRef}`],
  ];
  say('');
  say(`server time per page, ${requests} requests each after 3 warm-up, one at a time (ms):`);
  say(`${'page'.padEnd(28)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)}`);
  let worst = 0;
  for (const [name, href] of pages) {
    const times = [];
    for (let n = 0; n < requests + 3; n++) {
      t = performance.now();
      const res = await fetch(`${url}${href}`, { headers: { cookie }, redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${href}: HTTP ${res.status}`);
      if (n >= 3) times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const p95 = quantile(times, 0.95);
    worst = Math.max(worst, p95);
    say(
      `${name.padEnd(28)} ${quantile(times, 0.5).toFixed(0).padStart(7)} ${p95.toFixed(0).padStart(7)} ${times.at(-1).toFixed(0).padStart(7)}`,
    );
  }
  say('');
  say(`worst p95 ${worst.toFixed(0)} ms (floor: under 300 ms)`);
  await db.close();
} finally {
  dashboard?.kill('SIGTERM');
  await postgres.stop();
}
