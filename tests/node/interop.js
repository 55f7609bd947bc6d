// The Node.js side of the queue interoperability tests: what the SkillForge API's BullMQ code does,
// driven by tests/e2e/test_queue_interop.py. One command per run; its JSON answer on stdout.
//
//   node interop.js consume '{"queue": "...", "prefix": "...", "count": 1, "timeoutMs": 10000}'
//   node interop.js add     '{"queue": "...", "prefix": "...", "name": "...", "data": {...}, "opts": {...}}'
//   node interop.js get     '{"queue": "...", "prefix": "...", "id": "..."}'
//   node interop.js validate '{"jobId": "..."}'
//   node interop.js canonical '{"values": [...]}'
//
// `add` with "signingKey" signs the data as the API does (signing.js, docs/QUEUE.md "Signed jobs"),
// then merges "tamper" (if any) into the signed data: a job changed after it was signed. "signedFor":
// [queue, name] signs it for another queue and job name than it is added to (a replay).
//
// Redis comes from REDIS_URL (default redis://127.0.0.1:6379/0), with an ACL user name if it has one.
'use strict';

const { Queue, Worker, Job } = require('bullmq');
const { canonicalJson, signJobData } = require('./signing');

function connection() {
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/0');
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.replace('/', '') || 0),
    username: url.username ? decodeURIComponent(url.username) : undefined, // a Redis ACL user
    password: url.password ? decodeURIComponent(url.password) : undefined,
    maxRetriesPerRequest: null, // what BullMQ requires of a Worker's connection
  };
}

function describe(job, state) {
  return {
    id: job.id,
    name: job.name,
    data: job.data,
    opts: job.opts,
    state,
    attemptsMade: job.attemptsMade,
    returnvalue: job.returnvalue,
    failedReason: job.failedReason,
  };
}

// Process `count` jobs the way an API worker would: record each one and complete it.
async function consume({ queue, prefix, count = 1, timeoutMs = 10000 }) {
  const seen = [];
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const worker = new Worker(queue, async (job) => {
    seen.push(describe(job, 'active'));
    if (seen.length >= count) finish();
    return { consumedBy: 'node', jobName: job.name };
  }, { connection: connection(), prefix, autorun: true });
  const timer = setTimeout(finish, timeoutMs);
  await done;
  clearTimeout(timer);
  await worker.close();
  return { jobs: seen };
}

async function add({ queue, prefix, name, data, opts, signingKey, tamper, signedFor }) {
  const q = new Queue(queue, { connection: connection(), prefix });
  try {
    const [signedQueue, signedName] = signedFor || [queue, name];
    const signed = signingKey ? signJobData(signingKey, signedQueue, signedName, data) : data;
    const job = await q.add(name, { ...signed, ...(tamper || {}) }, opts || {});
    return { id: job.id, state: await job.getState() };
  } finally {
    await q.close();
  }
}

async function get({ queue, prefix, id }) {
  const q = new Queue(queue, { connection: connection(), prefix });
  try {
    const job = await Job.fromId(q, id);
    return job ? describe(job, await job.getState()) : null;
  } finally {
    await q.close();
  }
}

// Whether Node BullMQ accepts a custom job id (the check Queue.add runs before touching Redis).
function validate({ jobId }) {
  try {
    Job.prototype.validateOptions.call({ name: 'validate', opts: { jobId } }, { data: '{}' });
    return { valid: true };
  } catch (error) {
    return { valid: false, error: error.message };
  }
}

// The canonical JSON of each value, as the signature covers it.
function canonical({ values }) {
  return { canonical: values.map(canonicalJson) };
}

const commands = { consume, add, get, validate, canonical };

(async () => {
  const [command, argument] = process.argv.slice(2);
  if (!commands[command]) {
    console.error(`usage: node interop.js (${Object.keys(commands).join('|')}) JSON`);
    process.exit(2);
  }
  const result = await commands[command](JSON.parse(argument || '{}'));
  process.stdout.write(JSON.stringify(result) + '\n');
})().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
