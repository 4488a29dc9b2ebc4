// @ts-check
/*
 * A conversation's messages in order (docs/protocol.md: each message has a seq; a resume
 * with the last contiguous seq returns what was missed). Pure functions over seqs first,
 * tested by tests/js/ordering.test.mjs; then the one DOM helper both pages place messages
 * with. Optimistic messages (sent, no seq yet) stay after every stored one.
 */

/**
 * A message's place among the stored ones: how many of them, counted back from the newest,
 * it goes before. `newestFirst` is lazy so that the usual case (the message is the newest)
 * reads one seq; a stored message without a seq (acknowledged without one) counts as the
 * newest.
 * @param {Iterable<number>} newestFirst
 * @param {number} seq
 */
export function stepsBack(newestFirst, seq) {
  let steps = 0;
  for (const other of newestFirst) {
    if (!(other > seq)) break;
    steps += 1;
  }
  return steps;
}

/**
 * The highest seq up to which every seq is known, starting from `contiguous`.
 * @param {number} contiguous
 * @param {{has(seq: number): boolean}} known a Set or Map of seqs
 */
export function advanceContiguous(contiguous, known) {
  let seq = contiguous;
  while (known.has(seq + 1)) seq += 1;
  return seq;
}

/**
 * Is something missing below `maxSeq`?
 * @param {number} contiguous
 * @param {number} maxSeq
 */
export function hasGap(contiguous, maxSeq) {
  return maxSeq > contiguous;
}

/**
 * Does a pushed `seq` skip one after `contiguous` (so something before it is on its way)?
 * @param {number} seq
 * @param {number} contiguous
 */
export function skipsAhead(seq, contiguous) {
  return seq > contiguous + 1;
}

/**
 * Sort order of messages: by seq, those without one last.
 * @param {{seq?: unknown}} a
 * @param {{seq?: unknown}} b
 */
export function bySeq(a, b) {
  const left = Number.isInteger(a.seq) ? Number(a.seq) : Infinity;
  const right = Number.isInteger(b.seq) ? Number(b.seq) : Infinity;
  return left === right ? 0 : left < right ? -1 : 1;
}

/** @param {Element} node */
function seqOf(node) {
  const seq = node instanceof HTMLElement ? node.dataset.seq : undefined;
  return seq === undefined ? Infinity : Number(seq);
}

/**
 * Put `item` (a message element) in `list` at its seq's place: before any optimistic one
 * (`.msg.is-pending`), after every stored one with a lower seq. An optimistic message that
 * just got its seq moves there.
 * @param {Element} list
 * @param {Element} item
 * @param {number} seq Infinity for a message without one
 */
export function insertBySeq(list, item, seq) {
  item.remove();
  const pending = list.querySelector(".msg.is-pending");
  const newest = pending ? pending.previousElementSibling : list.lastElementChild;
  function* newestFirst() {
    for (let node = newest; node; node = node.previousElementSibling) yield seqOf(node);
  }
  let before = pending;
  let node = newest;
  for (let steps = stepsBack(newestFirst(), seq); steps > 0 && node; steps -= 1) {
    before = node;
    node = node.previousElementSibling;
  }
  list.insertBefore(item, before);
}
