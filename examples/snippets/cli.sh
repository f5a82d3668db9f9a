#!/bin/sh
# The README's command-line examples, on the bundled example models, from a project where
# pathlens is installed (in a clone of the repository: npm run build, then EX=examples and `node dist/cli/main.js` for `npx pathlens`).
set -eu
EX=${EX:-node_modules/pathlens/examples}

# Integrated Gradients of class 3 for 12 digits (attributions.npy, delta.npy, summary.json)
npx pathlens explain $EX/digits/digits_cnn.onnx --input $EX/digits/digits_sample.npy --target 3 --steps 50 -o out/ig
npx pathlens explain $EX/digits/digits_cnn.onnx --input $EX/digits/digits_sample.npy --target 3 \
  --noise-tunnel smoothgrad --samples 10 --stdev 0.1 --seed 0 -o out/sg
npx pathlens explain $EX/digits/digits_cnn.onnx --input $EX/digits/digits_sample.npy --target 3 \
  --method expected-gradients --references $EX/digits/digits_test.npy --samples 50 --seed 0 -o out/eg
# Integrated Hessians: --steps N evaluates N × N path points (one Hessian-vector product per
# feature row at each), so keep N small; --interaction-index limits the rows
npx pathlens explain $EX/digits/digits_cnn.onnx --input $EX/digits/digits_sample.npy --target 3 \
  --method integrated-hessians --steps 8 --softplus 10 --interaction-index 27,28,35,36 -o out/ih
# ∂/∂input Σ(cotangent ⊙ logits)
npx pathlens gradient $EX/digits/digits_cnn.onnx --input input=$EX/digits/digits_sample.npy --wrt input \
  --cotangent $EX/digits/cotangent_class3.npy -o out/grad
# text, image, tabular: two lines each in the library, one here, with an HTML report
npx pathlens text $EX/text-sentiment "a wonderful film" --report -o out/text
npx pathlens image $EX/image-shapes/model.onnx $EX/image-shapes/circle.png --target square --baseline blur --report -o out/image
npx pathlens tabular $EX/tabular/model.onnx $EX/tabular/rows.csv --report -o out/tabular
# Enhanced IG: which pixels make a 5 a 5? Fives and random digits, paths through the data
npx pathlens eig $EX/digits/digits_cnn.onnx --input $EX/digits/fives.npy --path original-neighbors \
  --baseline-kind median --baseline-data $EX/digits/digits_test.npy --reference-data $EX/digits/digits_test.npy --neighbors 8 --target 5 -o out/eig
npx pathlens eig $EX/digits/digits_cnn.onnx --input $EX/digits/others.npy --path original-neighbors \
  --baseline-kind median --baseline-data $EX/digits/digits_test.npy --reference-data $EX/digits/digits_test.npy --neighbors 8 --target 5 -o out/eig-null
npx pathlens significance --attributions out/eig/attributions.npy --null out/eig-null/attributions.npy --correction bonferroni -o out/sig
