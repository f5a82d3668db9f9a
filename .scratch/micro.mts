import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { decodeModel } from "/work/wt/startup/src/onnx/codec.js";
import { assertWellFormedModel } from "/work/wt/startup/src/onnx/checker.js";
import { assertModelSupported } from "/work/wt/startup/src/autodiff/op-support.js";
import { decodeGradientEntry, modelKeyParts } from "/work/wt/startup/src/runtime/gradient-entry.js";
const dir = "/tmp/st/cache/";
const [entryF, optF] = ["06e6e7c7a10247fed1ad1938d9b988dcf08930e1810af6ebc7e10adee5725bba.plgc", "447c31348143a3dce4ee370e941a9ea374e9cb48668abd92dd0aaab7435bdbed.plgc"].map((f) => dir + f);
const user = "/work/wt/shared/fixtures/models/resnet18.onnx";
const T: Record<string, number[]> = {};
async function t(name: string, f: () => unknown) { const a = performance.now(); await f(); (T[name] ??= []).push(performance.now() - a); }
for (let r = 0; r < 3; r++) {
  let ub!: Uint8Array, um!: ReturnType<typeof decodeModel>;
  await t("read user 45MB", async () => { ub = new Uint8Array(await readFile(user)); });
  await t("decode user", () => { um = decodeModel(ub); });
  await t("check user", () => assertWellFormedModel(um));
  await t("assertModelSupported user", () => assertModelSupported(um));
  await t("keyparts+sha256", () => { const h = createHash("sha256"); for (const p of modelKeyParts(um)) h.update(p); h.digest("hex"); });
  await t("sha256 raw file", () => createHash("sha256").update(ub).digest("hex"));
  await t("sha1 raw file", () => createHash("sha1").update(ub).digest("hex"));
  let eb!: Uint8Array, ob!: Uint8Array;
  await t("read entry 47MB", async () => { eb = new Uint8Array(await readFile(entryF)); });
  await t("read opt 91MB", async () => { ob = new Uint8Array(await readFile(optF)); });
  await t("decode+check grad", () => assertWellFormedModel(decodeModel(decodeGradientEntry(eb).model)) );
  let s: ort.InferenceSession;
  await t("ort create opt bytes disabled", async () => { s = await ort.InferenceSession.create(ob, { graphOptimizationLevel: "disabled" }); });
  await s!.release();
  await t("ort create opt path disabled", async () => { s = await ort.InferenceSession.create(optF, { graphOptimizationLevel: "disabled" }); });
  await s!.release();
  await t("ort create user all", async () => { s = await ort.InferenceSession.create(ub, { graphOptimizationLevel: "all" }); });
  await s!.release();
}
for (const [k, v] of Object.entries(T)) console.log(k.padEnd(32), v.map((x) => (x / 1000).toFixed(3)).join(" "));
