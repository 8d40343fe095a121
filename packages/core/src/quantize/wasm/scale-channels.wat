;; Multiplies float32 weights by one float32 factor per channel (FoldBatchNorm's
;; w · γ/√(σ²+ε), via ../scale-channels.ts): four values at a time (SIMD). A JavaScript loop
;; over a freshly loaded model's weights runs unoptimised until V8's background compiler
;; gets a core (~20-40 ns a value on a loaded machine).
;; After editing, regenerate scale-channels.wasm.ts: `npm run gen:wasm`.
;;
;; Memory (grown by JS as needed): the values (float32, scaled in place) from byte 0, and
;; from byte $params the factor of each channel (`scale`) or of each position of a row
;; (`across`), float32. f32.mul rounds the exact product once, as JavaScript's
;; Float32Array store of `x * s` does (a product of two float32 is exact in float64).
;;
;; Two layouts, as in weight-extrema.wat: `scale` walks channels stored as contiguous runs
;; (Conv KCRS along K); `across` walks rows whose positions alternate channels (Gemm
;; [K, N] without transB, along N).
(module
  (memory (export "memory") 1)

  ;; n values: segment s = values [s·inner, (s+1)·inner) is multiplied by the factor of
  ;; channel (c0 + s) mod channels.
  (func (export "scale") (param $n i32) (param $inner i32) (param $channels i32) (param $c0 i32) (param $params i32)
    (local $start i32) (local $end i32) (local $c i32) (local $p i32) (local $vend i32) (local $pend i32)
    (local $s f32) (local $s4 v128)
    (local.set $c (local.get $c0))
    (block $segments_done
      (loop $segment
        (br_if $segments_done (i32.ge_u (local.get $start) (local.get $n)))
        (local.set $end (i32.add (local.get $start) (local.get $inner)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (local.set $s (f32.load (i32.add (local.get $params) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $s4 (f32x4.splat (local.get $s)))
        (local.set $p (i32.shl (local.get $start) (i32.const 2)))
        (local.set $pend (i32.shl (local.get $end) (i32.const 2)))
        (local.set $vend (i32.add (local.get $p) (i32.and (i32.sub (local.get $pend) (local.get $p)) (i32.const -16))))
        (block $fours_done
          (loop $fours
            (br_if $fours_done (i32.ge_u (local.get $p) (local.get $vend)))
            (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $s4)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $fours)))
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $p) (local.get $pend)))
            (f32.store (local.get $p) (f32.mul (f32.load (local.get $p)) (local.get $s)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $rest)))
        (local.set $start (local.get $end))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (if (i32.eq (local.get $c) (local.get $channels)) (then (local.set $c (i32.const 0))))
        (br $segment))))

  ;; n values, whole rows of $row values: position j of each row is multiplied by the
  ;; factor at $params + 4j.
  (func (export "across") (param $n i32) (param $row i32) (param $params i32)
    (local $p i32) (local $end i32) (local $rowend i32) (local $vend i32) (local $a i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowend (i32.add (local.get $p) (i32.shl (local.get $row) (i32.const 2))))
        (local.set $vend (i32.add (local.get $p) (i32.and (i32.shl (local.get $row) (i32.const 2)) (i32.const -16))))
        (local.set $a (local.get $params))
        (block $fours_done
          (loop $fours
            (br_if $fours_done (i32.ge_u (local.get $p) (local.get $vend)))
            (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (v128.load (local.get $a))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (br $fours)))
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $p) (local.get $rowend)))
            (f32.store (local.get $p) (f32.mul (f32.load (local.get $p)) (f32.load (local.get $a))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $a (i32.add (local.get $a) (i32.const 4)))
            (br $rest)))
        (br $rows)))))
