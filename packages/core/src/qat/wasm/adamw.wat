;; One AdamW update (torch.optim.AdamW's formulas, in float32 as torch computes them) over
;; n float32 values, four at a time (SIMD), in place. Why WebAssembly: the update touches
;; every weight each step, and a JavaScript loop (float64 arithmetic, a division and a
;; square root per value) took ~5 ns a value, 100+ ms a step on a 20 M-parameter model.
;; After editing, regenerate adamw.wasm.ts: `npm run gen:wasm`.
;;
;; Memory (grown by JS as needed): four arrays of n float32 from the byte offsets given,
;; the weights w, the gradients g, and the moments m and v (updated in place):
;;   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
;;   w ← w·decay − step · m / (√v · invSqrtC2 + ε)
;; with step = lr / (1 − β1^t) and invSqrtC2 = 1 / √(1 − β2^t) from the caller.
(module
  (memory (export "memory") 1)

  (func (export "adamw") (param $n i32) (param $w i32) (param $g i32) (param $m i32) (param $v i32)
    (param $b1 f32) (param $b2 f32) (param $step f32) (param $invSqrtC2 f32) (param $eps f32) (param $decay f32)
    (local $i i32) (local $end i32) (local $o i32)
    (local $gi v128) (local $mi v128) (local $vi v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128) (local $S v128) (local $K v128) (local $E v128) (local $D v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $S (f32x4.splat (local.get $step)))
    (local.set $K (f32x4.splat (local.get $invSqrtC2)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $D (f32x4.splat (local.get $decay)))
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (block $fours_done
      (loop $fours
        (br_if $fours_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mi (f32x4.add (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $o)))) (f32x4.mul (local.get $C1) (local.get $gi))))
        (local.set $vi (f32x4.add (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $o)))) (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gi) (local.get $gi)))))
        (v128.store (i32.add (local.get $m) (local.get $o)) (local.get $mi))
        (v128.store (i32.add (local.get $v) (local.get $o)) (local.get $vi))
        (v128.store (i32.add (local.get $w) (local.get $o))
          (f32x4.sub
            (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $o))) (local.get $D))
            (f32x4.div (f32x4.mul (local.get $S) (local.get $mi))
              (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vi)) (local.get $K)) (local.get $E)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $fours)))
    (block $rest_done
      (loop $rest
        (br_if $rest_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms (f32.add (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $o)))) (f32.mul (f32.sub (f32.const 1) (local.get $b1)) (local.get $gs))))
        (local.set $vs (f32.add (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $o)))) (f32.mul (f32.sub (f32.const 1) (local.get $b2)) (f32.mul (local.get $gs) (local.get $gs)))))
        (f32.store (i32.add (local.get $m) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $w) (local.get $o))
          (f32.sub
            (f32.mul (f32.load (i32.add (local.get $w) (local.get $o))) (local.get $decay))
            (f32.div (f32.mul (local.get $step) (local.get $ms))
              (f32.add (f32.mul (f32.sqrt (local.get $vs)) (local.get $invSqrtC2)) (local.get $eps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rest)))))
