;; Quantizes float32 weights to int8 / uint8 with a scale and zero point per channel
;; (exportQdq, via ../quantize-weights.ts): four values at a time (SIMD), where the
;; JavaScript loop took ~4 ns a value (~105 ms of ResNet-50's export).
;; After editing, regenerate quantize-weights.wasm.ts: `npm run gen:wasm`.
;;
;; Memory (grown by JS as needed): the values (float32) from byte 0, the integers (one byte
;; each) from byte $out, and the channels' scales (float32) and zero points (int32) from
;; byte $params: scale c at $params + 4c, zero point c at $params + 4·channels + 4c and a
;; factor c (float32) at $params + 8·channels + 4c; for `across`, the reciprocal scale
;; (float64) of each position of a row at $params + 8j, its zero point (float64) at
;; $params + 8·row + 8j and its factor (float32) at $params + 16·row + 4j. Each value is
;; first multiplied by its factor in float32 (a BatchNorm folded into the weight, not yet
;; written out: 1 otherwise, which changes nothing).
;;
;; Two layouts: `quantize` walks channels stored as contiguous runs (Conv KCRS along K);
;; `across` walks rows whose positions alternate channels value by value (PyTorch's
;; MatMul weight [K, N] along N), where `quantize` would take one value per segment.
(module
  (memory (export "memory") 1)

  ;; q = clamp(round_half_even(x · (1 / scale)) + zero_point, qmin, qmax) in float64 with
  ;; x = fround(value · factor), as the JavaScript `x * inv + MAGIC - MAGIC + z` with Math.max/Math.min: the clamp is
  ;; f64x2.pmax(x, qmin) = x < qmin ? qmin : x, then pmin(x, qmax), so that a NaN passes
  ;; through and truncates to 0, as JavaScript stores it. For n values: segment
  ;; s = values [s·inner, (s+1)·inner) uses channel (c0 + s) mod channels; $signed: int8
  ;; (else uint8).
  (func (export "quantize")
    (param $n i32) (param $inner i32) (param $channels i32) (param $c0 i32)
    (param $out i32) (param $params i32) (param $qmin f64) (param $qmax f64) (param $signed i32)
    (local $start i32) (local $end i32) (local $c i32) (local $i i32) (local $vend i32)
    (local $inv f64) (local $z f64) (local $x f64) (local $f f32)
    (local $inv2 v128) (local $z2 v128) (local $lo2 v128) (local $hi2 v128) (local $f4 v128)
    (local $v v128) (local $a v128) (local $b v128) (local $w v128)
    (local.set $lo2 (f64x2.splat (local.get $qmin)))
    (local.set $hi2 (f64x2.splat (local.get $qmax)))
    (local.set $c (local.get $c0))
    (block $segments_done
      (loop $segment
        (br_if $segments_done (i32.ge_u (local.get $start) (local.get $n)))
        (local.set $end (i32.add (local.get $start) (local.get $inner)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (local.set $inv (f64.div (f64.const 1)
          (f64.promote_f32 (f32.load (i32.add (local.get $params) (i32.shl (local.get $c) (i32.const 2)))))))
        (local.set $z (f64.convert_i32_s (i32.load
          (i32.add (i32.add (local.get $params) (i32.shl (local.get $channels) (i32.const 2))) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $f (f32.load
          (i32.add (i32.add (local.get $params) (i32.shl (local.get $channels) (i32.const 3))) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $inv2 (f64x2.splat (local.get $inv)))
        (local.set $z2 (f64x2.splat (local.get $z)))
        (local.set $f4 (f32x4.splat (local.get $f)))
        (local.set $i (local.get $start))
        (local.set $vend (i32.add (local.get $start) (i32.and (i32.sub (local.get $end) (local.get $start)) (i32.const -4))))
        (block $fours_done
          (loop $fours
            (br_if $fours_done (i32.ge_u (local.get $i) (local.get $vend)))
            (local.set $v (f32x4.mul (v128.load (i32.shl (local.get $i) (i32.const 2))) (local.get $f4)))
            ;; Lanes 0-1 and 2-3 as float64, each: x · inv, rounded, + z, clamped, to int32.
            (local.set $a (f64x2.promote_low_f32x4 (local.get $v)))
            (local.set $b (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
            (local.set $a (i32x4.trunc_sat_f64x2_s_zero (f64x2.pmin (f64x2.pmax
              (f64x2.add (f64x2.nearest (f64x2.mul (local.get $a) (local.get $inv2))) (local.get $z2))
              (local.get $lo2)) (local.get $hi2))))
            (local.set $b (i32x4.trunc_sat_f64x2_s_zero (f64x2.pmin (f64x2.pmax
              (f64x2.add (f64x2.nearest (f64x2.mul (local.get $b) (local.get $inv2))) (local.get $z2))
              (local.get $lo2)) (local.get $hi2))))
            ;; [a0 a1 b0 b1] as int32, narrowed (in range already) to 4 bytes.
            (local.set $w (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b)))
            (local.set $w (i16x8.narrow_i32x4_s (local.get $w) (local.get $w)))
            (if (local.get $signed)
              (then (local.set $w (i8x16.narrow_i16x8_s (local.get $w) (local.get $w))))
              (else (local.set $w (i8x16.narrow_i16x8_u (local.get $w) (local.get $w)))))
            (v128.store32_lane 0 (i32.add (local.get $out) (local.get $i)) (local.get $w))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $fours)))
        ;; The last values one by one (the same arithmetic, scalar).
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $i) (local.get $end)))
            (local.set $x (f64.min (local.get $qmax) (f64.max (local.get $qmin)
              (f64.add (f64.nearest (f64.mul (f64.promote_f32 (f32.mul (f32.load (i32.shl (local.get $i) (i32.const 2))) (local.get $f))) (local.get $inv))) (local.get $z)))))
            (i32.store8 (i32.add (local.get $out) (local.get $i)) (i32.trunc_sat_f64_s (local.get $x)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rest)))
        (local.set $start (local.get $end))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (if (i32.eq (local.get $c) (local.get $channels)) (then (local.set $c (i32.const 0))))
        (br $segment))))

  ;; `quantize` for n values, whole rows of $row values, with each position's own
  ;; factor, reciprocal scale and zero point: the same arithmetic, value for value.
  (func (export "across")
    (param $n i32) (param $row i32) (param $out i32) (param $params i32)
    (param $qmin f64) (param $qmax f64) (param $signed i32)
    (local $i i32) (local $rowend i32) (local $vend i32) (local $j i32) (local $zs i32) (local $k i32) (local $x f64)
    (local $lo2 v128) (local $hi2 v128) (local $v v128) (local $a v128) (local $b v128) (local $w v128)
    (local.set $lo2 (f64x2.splat (local.get $qmin)))
    (local.set $hi2 (f64x2.splat (local.get $qmax)))
    (local.set $zs (i32.shl (local.get $row) (i32.const 3)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $rowend (i32.add (local.get $i) (local.get $row)))
        (local.set $vend (i32.add (local.get $i) (i32.and (local.get $row) (i32.const -4))))
        (local.set $j (local.get $params))
        (local.set $k (i32.add (local.get $params) (i32.shl (local.get $row) (i32.const 4))))
        (block $fours_done
          (loop $fours
            (br_if $fours_done (i32.ge_u (local.get $i) (local.get $vend)))
            (local.set $v (f32x4.mul (v128.load (i32.shl (local.get $i) (i32.const 2))) (v128.load (local.get $k))))
            (local.set $a (f64x2.promote_low_f32x4 (local.get $v)))
            (local.set $b (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
            (local.set $a (i32x4.trunc_sat_f64x2_s_zero (f64x2.pmin (f64x2.pmax
              (f64x2.add (f64x2.nearest (f64x2.mul (local.get $a) (v128.load (local.get $j))))
                (v128.load (i32.add (local.get $j) (local.get $zs))))
              (local.get $lo2)) (local.get $hi2))))
            (local.set $b (i32x4.trunc_sat_f64x2_s_zero (f64x2.pmin (f64x2.pmax
              (f64x2.add (f64x2.nearest (f64x2.mul (local.get $b) (v128.load offset=16 (local.get $j))))
                (v128.load offset=16 (i32.add (local.get $j) (local.get $zs))))
              (local.get $lo2)) (local.get $hi2))))
            (local.set $w (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b)))
            (local.set $w (i16x8.narrow_i32x4_s (local.get $w) (local.get $w)))
            (if (local.get $signed)
              (then (local.set $w (i8x16.narrow_i16x8_s (local.get $w) (local.get $w))))
              (else (local.set $w (i8x16.narrow_i16x8_u (local.get $w) (local.get $w)))))
            (v128.store32_lane 0 (i32.add (local.get $out) (local.get $i)) (local.get $w))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 32)))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $fours)))
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $i) (local.get $rowend)))
            (local.set $x (f64.min (local.get $qmax) (f64.max (local.get $qmin)
              (f64.add (f64.nearest (f64.mul (f64.promote_f32 (f32.mul (f32.load (i32.shl (local.get $i) (i32.const 2))) (f32.load (local.get $k))))
                (f64.load (local.get $j))))
                (f64.load (i32.add (local.get $j) (local.get $zs)))))))
            (i32.store8 (i32.add (local.get $out) (local.get $i)) (i32.trunc_sat_f64_s (local.get $x)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $rest)))
        (br $rows)))))
