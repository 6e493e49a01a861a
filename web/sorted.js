// sorted.js — binary search and in-place insertion on arrays kept sorted by
// time. The model keeps every lane's spans, instants and samples sorted so
// the timeline can cull a frame by binary search instead of scanning a
// 100,000-event run; both sides share these two helpers.

/**
 * Index of the first element whose key is >= x (arrays sorted by key).
 * @template T
 * @param {T[]} arr
 * @param {number} x
 * @param {(v:T)=>number} key
 */
export function lowerBound(arr, x, key) {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(arr[mid]) < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Events of one thread arrive in time order, but events about a lane can come
 * from elsewhere (a join's zombie span, a sampler); inserting in place keeps the
 * arrays sorted so culling can binary-search them.
 * @template T
 * @param {T[]} arr
 * @param {T} v
 * @param {(v:T)=>number} key
 */
export function insertSorted(arr, v, key) {
  const k = key(v);
  if (arr.length === 0 || key(arr[arr.length - 1]) <= k) arr.push(v);
  else arr.splice(lowerBound(arr, k + 1e-9, key), 0, v);
}
