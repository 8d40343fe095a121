;; Counts int16 histogram bin indices (AbsHistogram.collectBinned, via ../bin-counter.ts).
;; After editing, regenerate count-bins.wasm.ts: `npm run gen:wasm`.
;;
;; Memory layout (29 pages of 64 KiB, fixed: it never grows, so JS views stay valid):
;;   bytes 0 .. 1048832      4 lanes of 65552 u32 counters, lane l at byte l * 262208.
;;                           Index v counts in slot (v & 0xffff) of its lane: 0..32767 for
;;                           v >= 0, 65536 + v for v < 0. 16 counters of padding per lane
;;                           keep equal slots of the lanes from sharing a 4 KiB offset.
;;   bytes 1048832 .. +2^19  the chunk: up to 262144 int16 indices, copied in by JS.
;;   bytes 1573120 .. +2^18  the bins: up to 32768 float64 counts, that $fold adds to.
;; The lane offsets are immediates in $count: keep them in step with $lane_stride.
(module
  (memory (export "memory") 29 29)
  ;; Counters per lane.
  (global $lane_stride (export "lane_stride") i32 (i32.const 65552))
  ;; Byte offset and capacity (in indices) of the chunk.
  (global $chunk_offset (export "chunk_offset") i32 (i32.const 1048832))
  (global $chunk_length (export "chunk_length") i32 (i32.const 262144))
  ;; Byte offset of the float64 bins.
  (global $bins_offset (export "bins_offset") i32 (i32.const 1573120))

  ;; Adds the first $n indices of the chunk to the lanes: index i to lane i % 4 in groups
  ;; of four (independent counters, so that a run of equal indices does not serialise on
  ;; one), the last n % 4 to lane 0. Loading the int16 zero-extended (load16_u) makes
  ;; the slot: no sign handling at all in the loop; $fold below undoes it.
  (func (export "count") (param $n i32)
    (local $p i32) (local $end i32) (local $a i32)
    (local.set $p (global.get $chunk_offset))
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 1))))
    (block $fours_done
      (loop $fours
        (br_if $fours_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32.shl (i32.load16_u offset=0 (local.get $p)) (i32.const 2)))
        (i32.store offset=0 (local.get $a) (i32.add (i32.load offset=0 (local.get $a)) (i32.const 1)))
        (local.set $a (i32.shl (i32.load16_u offset=2 (local.get $p)) (i32.const 2)))
        (i32.store offset=262208 (local.get $a) (i32.add (i32.load offset=262208 (local.get $a)) (i32.const 1)))
        (local.set $a (i32.shl (i32.load16_u offset=4 (local.get $p)) (i32.const 2)))
        (i32.store offset=524416 (local.get $a) (i32.add (i32.load offset=524416 (local.get $a)) (i32.const 1)))
        (local.set $a (i32.shl (i32.load16_u offset=6 (local.get $p)) (i32.const 2)))
        (i32.store offset=786624 (local.get $a) (i32.add (i32.load offset=786624 (local.get $a)) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $fours)))
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 1))))
    (block $rest_done
      (loop $rest
        (br_if $rest_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32.shl (i32.load16_u offset=0 (local.get $p)) (i32.const 2)))
        (i32.store offset=0 (local.get $a) (i32.add (i32.load offset=0 (local.get $a)) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (br $rest))))

  ;; Adds the lanes to the float64 bins: bin k gets slots k (v = k) and 65535 - k
  ;; (v = -k - 1) of every lane, the last bin also slots $bins (v = bins) and
  ;; 65535 - $bins (v = -bins - 1). Sums in i64 (no wrap), each bin's total added to its
  ;; float64 count once. Returns the total added: the indices in [-bins - 1, bins].
  (func (export "fold") (param $bins i32) (result f64)
    (local $pos i32) (local $neg i32) (local $out i32) (local $end i32)
    (local $c i64) (local $seen i64)
    (local.set $pos (i32.const 0))
    (local.set $neg (i32.const 262140))
    (local.set $out (global.get $bins_offset))
    (local.set $end (i32.add (global.get $bins_offset) (i32.shl (local.get $bins) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $c
          (i64.add
            (i64.add
              (i64.add (i64.extend_i32_u (i32.load offset=0 (local.get $pos))) (i64.extend_i32_u (i32.load offset=262208 (local.get $pos))))
              (i64.add (i64.extend_i32_u (i32.load offset=524416 (local.get $pos))) (i64.extend_i32_u (i32.load offset=786624 (local.get $pos)))))
            (i64.add
              (i64.add (i64.extend_i32_u (i32.load offset=0 (local.get $neg))) (i64.extend_i32_u (i32.load offset=262208 (local.get $neg))))
              (i64.add (i64.extend_i32_u (i32.load offset=524416 (local.get $neg))) (i64.extend_i32_u (i32.load offset=786624 (local.get $neg)))))))
        ;; The last bin also takes the slots of v = bins and v = -bins - 1 (one further out).
        (if (i32.eq (local.get $out) (i32.sub (local.get $end) (i32.const 8)))
          (then
            (local.set $c
              (i64.add (local.get $c)
                (i64.add
                  (i64.add
                    (i64.add (i64.extend_i32_u (i32.load offset=4 (local.get $pos))) (i64.extend_i32_u (i32.load offset=262212 (local.get $pos))))
                    (i64.add (i64.extend_i32_u (i32.load offset=524420 (local.get $pos))) (i64.extend_i32_u (i32.load offset=786628 (local.get $pos)))))
                  (i64.add
                    (i64.add (i64.extend_i32_u (i32.load (i32.sub (local.get $neg) (i32.const 4)))) (i64.extend_i32_u (i32.load offset=262204 (local.get $neg))))
                    (i64.add (i64.extend_i32_u (i32.load offset=524412 (local.get $neg))) (i64.extend_i32_u (i32.load offset=786620 (local.get $neg))))))))))
        (f64.store (local.get $out) (f64.add (f64.load (local.get $out)) (f64.convert_i64_u (local.get $c))))
        (local.set $seen (i64.add (local.get $seen) (local.get $c)))
        (local.set $pos (i32.add (local.get $pos) (i32.const 4)))
        (local.set $neg (i32.sub (local.get $neg) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $next)))
    (f64.convert_i64_u (local.get $seen))))
