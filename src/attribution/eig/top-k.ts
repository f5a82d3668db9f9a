/** A bounded selection of the k nearest points, shared by the neighbour-graph code. */

/** The k smallest (distance, index) pairs offered, kept sorted (by distance, then index). */
export class TopK {
  readonly index: Int32Array;
  readonly dist: Float64Array;
  size = 0;
  constructor(readonly k: number) {
    this.index = new Int32Array(k);
    this.dist = new Float64Array(k);
  }
  clear(): void {
    this.size = 0;
  }
  /** The k-th smallest distance so far (infinite until k were offered). */
  worst(): number {
    return this.size < this.k ? Number.POSITIVE_INFINITY : this.dist[this.k - 1]!;
  }
  offer(j: number, d: number): void {
    const { index, dist, k } = this;
    let q = this.size;
    if (q === k) {
      if (d > dist[k - 1]! || (d === dist[k - 1]! && j > index[k - 1]!)) return;
      q = k - 1;
    } else this.size++;
    while (q > 0 && (dist[q - 1]! > d || (dist[q - 1]! === d && index[q - 1]! > j))) {
      dist[q] = dist[q - 1]!;
      index[q] = index[q - 1]!;
      q--;
    }
    dist[q] = d;
    index[q] = j;
  }
}
