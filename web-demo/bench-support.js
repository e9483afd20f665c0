// Helpers of the benchmark page and the browser test (not used by the demo itself).

/// mesh_shared::testing::synthetic_content_embedding, bit for bit: a 32-bit LCG seeded by the
/// key's first 8 hex digits, centred, normalised in f64, rounded to f32.
export function syntheticEmbedding(key) {
  let state = parseInt(key.slice(0, 8), 16) >>> 0;
  const values = new Float64Array(384);
  for (let i = 0; i < 384; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 4294967296 - 0.5;
  }
  let sum = 0;
  for (const x of values) sum += x * x;
  const norm = Math.sqrt(sum);
  return Float32Array.from(values, (x) => x / norm);
}

/// Gives `session` a synthetic content embedding for each of its content requests (as the
/// Worker's cache would); returns how many.
export function setSyntheticEmbeddings(session) {
  const requests = session.contentRequests();
  const embeddings = new Float32Array(requests.length * 384);
  requests.forEach((request, i) => embeddings.set(syntheticEmbedding(request.key), i * 384));
  session.setContentEmbeddings(requests.map((r) => r.key), embeddings);
  return requests.length;
}
