'use strict';
// Sign the data of a SkillForge compliance job (docs/QUEUE.md, "Signed jobs").
const crypto = require('crypto');

// Canonical JSON: keys sorted (JavaScript's default sort), no whitespace, JSON.stringify's strings and numbers.
function canonicalJson(value) {
  if (value !== null && typeof value === 'object' && typeof value.toJSON === 'function') {
    return canonicalJson(value.toJSON());
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

// The job data with its `signature`: HMAC-SHA256 with `key` over the data, queue name and job name.
function signJobData(key, queueName, jobName, data) {
  const { signature, ...unsigned } = data; // eslint-disable-line no-unused-vars
  const message = canonicalJson({ data: unsigned, name: jobName, queue: queueName, v: 1 });
  const digest = crypto.createHmac('sha256', Buffer.from(key, 'utf8')).update(message, 'utf8').digest('hex');
  return { ...unsigned, signature: `sha256=${digest}` };
}

module.exports = { canonicalJson, signJobData };
