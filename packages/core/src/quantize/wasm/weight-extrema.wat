;; Per-channel extrema of float32 weights (WeightFakeQuantize, via ../weight-extrema.ts):
;; four values at a time (SIMD), where a JavaScript loop chains every comparison on the one
;; before (~1.5-2 ns a value: ~55 ms for ResNet-50's 25 M weights).
;; After editing, regenerate weight-extrema.wasm.ts: `npm run gen:wasm`.
;;
;; Memory (grown by JS as needed): the values (float32) from byte 0, then at byte $out the
;; channels' running minima (float32 × channels) and maxima (float32 × channels), or, for
;; `across`, the running minima and maxima of each position of a row.
;;
;; Two layouts: `extrema` reduces channels stored as contiguous runs (Conv KCRS along K);
;; `across` reduces down the rows of a matrix, four neighbouring channels at a time, for
;; channels that alternate value by value (PyTorch's MatMul weight [K, N] along N), where
;; `extrema` would fold one value per segment.
(module
  (memory (export "memory") 1)

  ;; Folds n values into the running extrema: segment s = values [s·inner, (s+1)·inner)
  ;; belongs to channel (c0 + s) mod channels. Each comparison is the JS one,
  ;; `if (x < lo) lo = x` / `if (x > hi) hi = x`: f32x4.pmin(lo, x) = x < lo ? x : lo and
  ;; f32x4.pmax(hi, x) = hi < x ? x : hi, so NaN is skipped as in JS.
  (func (export "extrema") (param $n i32) (param $inner i32) (param $channels i32) (param $c0 i32) (param $out i32)
    (local $start i32) (local $end i32) (local $c i32) (local $p i32) (local $vend i32) (local $pend i32)
    (local $minp i32) (local $maxp i32) (local $lo f32) (local $hi f32) (local $x f32)
    (local $lo4 v128) (local $hi4 v128) (local $v v128)
    (local.set $c (local.get $c0))
    (block $segments_done
      (loop $segment
        (br_if $segments_done (i32.ge_u (local.get $start) (local.get $n)))
        (local.set $end (i32.add (local.get $start) (local.get $inner)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (local.set $minp (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $maxp (i32.add (local.get $minp) (i32.shl (local.get $channels) (i32.const 2))))
        (local.set $lo (f32.load (local.get $minp)))
        (local.set $hi (f32.load (local.get $maxp)))
        (local.set $lo4 (f32x4.splat (local.get $lo)))
        (local.set $hi4 (f32x4.splat (local.get $hi)))
        ;; Groups of four.
        (local.set $p (i32.shl (local.get $start) (i32.const 2)))
        (local.set $pend (i32.shl (local.get $end) (i32.const 2)))
        (local.set $vend (i32.add (local.get $p) (i32.and (i32.sub (local.get $pend) (local.get $p)) (i32.const -16))))
        (block $fours_done
          (loop $fours
            (br_if $fours_done (i32.ge_u (local.get $p) (local.get $vend)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $lo4 (f32x4.pmin (local.get $lo4) (local.get $v)))
            (local.set $hi4 (f32x4.pmax (local.get $hi4) (local.get $v)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $fours)))
        ;; The four lanes, then the last values one by one.
        (local.set $lo (f32x4.extract_lane 0 (local.get $lo4)))
        (local.set $hi (f32x4.extract_lane 0 (local.get $hi4)))
        (local.set $x (f32x4.extract_lane 1 (local.get $lo4)))
        (local.set $lo (select (local.get $x) (local.get $lo) (f32.lt (local.get $x) (local.get $lo))))
        (local.set $x (f32x4.extract_lane 2 (local.get $lo4)))
        (local.set $lo (select (local.get $x) (local.get $lo) (f32.lt (local.get $x) (local.get $lo))))
        (local.set $x (f32x4.extract_lane 3 (local.get $lo4)))
        (local.set $lo (select (local.get $x) (local.get $lo) (f32.lt (local.get $x) (local.get $lo))))
        (local.set $x (f32x4.extract_lane 1 (local.get $hi4)))
        (local.set $hi (select (local.get $x) (local.get $hi) (f32.gt (local.get $x) (local.get $hi))))
        (local.set $x (f32x4.extract_lane 2 (local.get $hi4)))
        (local.set $hi (select (local.get $x) (local.get $hi) (f32.gt (local.get $x) (local.get $hi))))
        (local.set $x (f32x4.extract_lane 3 (local.get $hi4)))
        (local.set $hi (select (local.get $x) (local.get $hi) (f32.gt (local.get $x) (local.get $hi))))
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $p) (local.get $pend)))
            (local.set $x (f32.load (local.get $p)))
            (local.set $lo (select (local.get $x) (local.get $lo) (f32.lt (local.get $x) (local.get $lo))))
            (local.set $hi (select (local.get $x) (local.get $hi) (f32.gt (local.get $x) (local.get $hi))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $rest)))
        (f32.store (local.get $minp) (local.get $lo))
        (f32.store (local.get $maxp) (local.get $hi))
        (local.set $start (local.get $end))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (if (i32.eq (local.get $c) (local.get $channels)) (then (local.set $c (i32.const 0))))
        (br $segment))))

  ;; Folds n values, whole rows of $row values, into per-position extrema: position j of
  ;; each row into min[j] at $acc + 4j and max[j] at $acc + 4·row + 4j, with the
  ;; comparisons of `extrema` (NaN skipped). The caller folds positions into channels.
  (func (export "across") (param $n i32) (param $row i32) (param $acc i32)
    (local $p i32) (local $end i32) (local $rowend i32) (local $vend i32) (local $a i32) (local $hi i32)
    (local $x f32) (local $y f32) (local $v v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $hi (i32.shl (local.get $row) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowend (i32.add (local.get $p) (local.get $hi)))
        (local.set $vend (i32.add (local.get $p) (i32.and (local.get $hi) (i32.const -16))))
        (local.set $a (local.get $acc))
        ;; Groups of four positions.
        (block $fours_done
          (loop $fours
            (br_if $fours_done (i32.ge_u (local.get $p) (local.get $vend)))
            (local.set $v (v128.load (local.get $p)))
            (v128.store (local.get $a) (f32x4.pmin (v128.load (local.get $a)) (local.get $v)))
            (v128.store (i32.add (local.get $a) (local.get $hi))
              (f32x4.pmax (v128.load (i32.add (local.get $a) (local.get $hi))) (local.get $v)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (br $fours)))
        ;; The row's last positions one by one.
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $p) (local.get $rowend)))
            (local.set $x (f32.load (local.get $p)))
            (local.set $y (f32.load (local.get $a)))
            (f32.store (local.get $a) (select (local.get $x) (local.get $y) (f32.lt (local.get $x) (local.get $y))))
            (local.set $y (f32.load (i32.add (local.get $a) (local.get $hi))))
            (f32.store (i32.add (local.get $a) (local.get $hi)) (select (local.get $x) (local.get $y) (f32.gt (local.get $x) (local.get $y))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $a (i32.add (local.get $a) (i32.const 4)))
            (br $rest)))
        (br $rows)))))
