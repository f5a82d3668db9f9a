import assert from "node:assert/strict";
import { test } from "node:test";
import { makeModel, type NodeSpec } from "../../onnx/make.js";
import { Random } from "../../tensor/random.js";
import { float64, type Tensor } from "../../tensor/tensor.js";
import { gradcheck } from "../../testing/gradcheck.js";

const rng = new Random(11);
function rand(dims: number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return float64(
    dims,
    Array.from({ length: n }, () => 2 * rng.uniform() - 1),
  );
}

/**
 * y = op(a, b) ⊙ op(a, b): squaring makes the second derivative depend on both operands,
 * so the Hessian-vector product exercises the rule's own ops (MatMul/Gemm/Transpose/…).
 */
function squaredModel(node: NodeSpec, inputs: string[], opset = 17) {
  return makeModel({
    opset,
    inputs: inputs.map((name) => ({ name, dtype: "float64" as const })),
    outputs: [{ name: "y", dtype: "float64" }],
    nodes: [
      { ...node, outputs: ["t"] },
      { op: "Mul", inputs: ["t", "t"], outputs: ["y"] },
    ],
  });
}

const matmulShapes: [number[], number[]][] = [
  [
    [2, 3],
    [3, 4],
  ],
  [
    [2, 5, 3],
    [3, 4],
  ],
  [
    [5, 3],
    [2, 3, 4],
  ],
  [[3], [3, 4]],
  [[2, 3], [3]],
  [[3], [3]],
  [
    [2, 1, 4, 3],
    [3, 3, 5],
  ],
  [[3], [2, 3, 4]],
  [[2, 4, 3], [3]],
];

for (const [da, db] of matmulShapes) {
  test(`MatMul ${JSON.stringify(da)} x ${JSON.stringify(db)}: gradient and Hessian-vector product`, async () => {
    const model = squaredModel({ op: "MatMul", inputs: ["a", "b"], outputs: [] }, ["a", "b"]);
    const r = await gradcheck(model, { a: rand(da), b: rand(db) }, { wrt: ["a", "b"], hvp: true });
    assert.ok(r.worst <= 1, r.message);
  });
}

test("MatMul gradient at opset 9 (attribute forms of ReduceSum/Unsqueeze)", async () => {
  for (const [da, db] of [
    [[3], [2, 3, 4]],
    [
      [2, 1, 4, 3],
      [3, 3, 5],
    ],
  ] as [number[], number[]][]) {
    const model = squaredModel({ op: "MatMul", inputs: ["a", "b"], outputs: [] }, ["a", "b"], 9);
    const r = await gradcheck(model, { a: rand(da), b: rand(db) }, { wrt: ["a", "b"], hvp: true });
    assert.ok(r.worst <= 1, `${JSON.stringify(da)} x ${JSON.stringify(db)}: ${r.message}`);
  }
});

test("MatMul gradient to one operand only (the other a constant)", async () => {
  const model = makeModel({
    inputs: [{ name: "a", dtype: "float64" }],
    outputs: [{ name: "y", dtype: "float64" }],
    initializers: { w: rand([4, 3, 2]) },
    nodes: [
      { op: "MatMul", inputs: ["a", "w"], outputs: ["t"] },
      { op: "Mul", inputs: ["t", "t"], outputs: ["y"] },
    ],
  });
  const r = await gradcheck(model, { a: rand([5, 4, 1, 3]) }, { wrt: ["a"], hvp: true });
  assert.ok(r.worst <= 1, r.message);
});

/** Gemm with A: [M,K] (or [K,M]), B: [K,N] (or [N,K]), M = 3, K = 4, N = 5. */
async function checkGemm(
  attrs: { transA?: number; transB?: number; alpha?: number; beta?: number },
  cDims: number[] | null,
  opset = 17,
) {
  const [M, K, N] = [3, 4, 5];
  const aDims = attrs.transA ? [K, M] : [M, K];
  const bDims = attrs.transB ? [N, K] : [K, N];
  const inputs = cDims ? ["a", "b", "c"] : ["a", "b"];
  const model = squaredModel(
    { op: "Gemm", inputs, outputs: [], attrs, floats: ["alpha", "beta"] },
    inputs,
    opset,
  );
  const feeds: Record<string, Tensor> = { a: rand(aDims), b: rand(bDims) };
  if (cDims) feeds.c = rand(cDims);
  const r = await gradcheck(model, feeds, { wrt: inputs, hvp: true });
  assert.ok(
    r.worst <= 1,
    `Gemm ${JSON.stringify(attrs)} C ${JSON.stringify(cDims)} opset ${opset}: ${r.message}`,
  );
}

test("Gemm with transA/transB, alpha and beta", async () => {
  for (const transA of [0, 1]) {
    for (const transB of [0, 1]) {
      await checkGemm({ transA, transB, alpha: 0.7, beta: 1.3 }, [3, 5]);
    }
  }
  await checkGemm({ alpha: 1, beta: 1 }, [3, 5]);
});

test("Gemm with C broadcast: [N], [1,N], [M,1], scalar, absent", async () => {
  await checkGemm({ transB: 1, beta: 0.5 }, [5]);
  await checkGemm({ transA: 1, beta: 2 }, [1, 5]);
  await checkGemm({ beta: 2 }, [3, 1]);
  await checkGemm({ alpha: 2 }, []);
  await checkGemm({ transA: 1, transB: 1, alpha: 1.5 }, null);
});

test("Gemm at opset 9 (C required: the gradient Gemms get a zero C)", async () => {
  await checkGemm({ transA: 1, transB: 1, alpha: 0.5, beta: 2 }, [5], 9);
  await checkGemm({ transB: 1 }, [3, 5], 9);
});

test("Einsum: matmul-like, attention-like, outer product, implicit output, summed-away and ellipsis indices", async () => {
  const cases: [string, number[][]][] = [
    [
      "ij,jk->ik",
      [
        [2, 3],
        [3, 4],
      ],
    ],
    [
      "bhqd,bhkd->bhqk",
      [
        [2, 2, 3, 4],
        [2, 2, 5, 4],
      ],
    ],
    ["i,j->ij", [[3], [4]]],
    [
      "ij,jk",
      [
        [2, 3],
        [3, 4],
      ],
    ], // implicit: -> ik
    [
      "ij,jk->k",
      [
        [2, 3],
        [3, 4],
      ],
    ], // i summed by the first operand alone
    ["ij->", [[2, 3]]],
    [
      "...ij,...jk->...ik",
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      "bij,jk->bik",
      [
        [2, 3, 4],
        [4, 5],
      ],
    ],
  ];
  for (const [equation, dims] of cases) {
    const names = dims.map((_, k) => `x${k}`);
    const model = squaredModel({ op: "Einsum", inputs: names, outputs: [], attrs: { equation } }, names);
    const feeds = Object.fromEntries(names.map((n, k) => [n, rand(dims[k]!)]));
    const r = await gradcheck(model, feeds, { wrt: names, hvp: true });
    assert.ok(r.worst <= 1, `${equation}: ${r.message}`);
  }
});

test("Einsum with a repeated index (diagonal) is refused with a clear error", async () => {
  const model = squaredModel({ op: "Einsum", inputs: ["a"], outputs: [], attrs: { equation: "ii->i" } }, [
    "a",
  ]);
  await assert.rejects(gradcheck(model, { a: rand([3, 3]) }, { wrt: ["a"] }), /repeated index/);
});
