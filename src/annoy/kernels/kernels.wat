;; SIMD distance kernels over float32 vectors that live in one shared memory (the index storage).
;;
;; Pointers are byte offsets treated as unsigned 32-bit addresses: the memory is at most 4 GiB, and
;; i32 add/mul wrap modulo 2^32, so `nodeBase + id * nodeBytes` is right whenever the true address
;; fits in 32 bits even though it may exceed 2^31 (JS passes such numbers through ToInt32 unchanged
;; bit-wise). Loads need no alignment. Sums accumulate in float32 like Annoy's own kernels, in
;; independent v128 accumulators that hide the add latency (four in `dot`; two per vector in the
;; l2/l1 kernels, single and batched alike, so an item's distance does not depend on the kernel),
;; then a 4-wide step and a scalar tail handle `f` that is not a multiple of the step.
;;
;; Batch kernels write one f64 per id (the JS side reads them through a Float64Array; `outPtr` must
;; be 8-byte aligned).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Σ a[i]·b[i]
  (func $dot (export "dot") (param $a i32) (param $b i32) (param $f i32) (result f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end16 i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $s f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end16 (i32.and (local.get $end) (i32.const -64)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done16
      (loop $next16
        (br_if $done16 (i32.ge_u (local.get $i) (local.get $end16)))
        (local.set $acc0 (f32x4.add (local.get $acc0)
          (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $i)))
                     (v128.load (i32.add (local.get $b) (local.get $i))))))
        (local.set $acc1 (f32x4.add (local.get $acc1)
          (f32x4.mul (v128.load offset=16 (i32.add (local.get $a) (local.get $i)))
                     (v128.load offset=16 (i32.add (local.get $b) (local.get $i))))))
        (local.set $acc2 (f32x4.add (local.get $acc2)
          (f32x4.mul (v128.load offset=32 (i32.add (local.get $a) (local.get $i)))
                     (v128.load offset=32 (i32.add (local.get $b) (local.get $i))))))
        (local.set $acc3 (f32x4.add (local.get $acc3)
          (f32x4.mul (v128.load offset=48 (i32.add (local.get $a) (local.get $i)))
                     (v128.load offset=48 (i32.add (local.get $b) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $next16)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $acc0 (f32x4.add (local.get $acc0)
          (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $i)))
                     (v128.load (i32.add (local.get $b) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $acc0 (f32x4.add (f32x4.add (local.get $acc0) (local.get $acc1))
                                (f32x4.add (local.get $acc2) (local.get $acc3))))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (i32.add (local.get $a) (local.get $i)))
                   (f32.load (i32.add (local.get $b) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.get $s))

  ;; Σ (a[i] − b[i])², summed in $multi8_l2's per-lane order so a distance does not depend on the kernel that computed it.
  (func $l2 (export "l2") (param $a i32) (param $b i32) (param $f i32) (result f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $acc0 v128) (local $acc1 v128)
    (local $d v128) (local $s f32) (local $x f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                 (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $a) (local.get $i)))
                                 (v128.load offset=16 (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                 (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (f32.sub (f32.load (i32.add (local.get $a) (local.get $i)))
                               (f32.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $s (f32.add (local.get $s) (f32.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.get $s))

  ;; Σ |a[i] − b[i]|, summed in $multi8_l1's per-lane order so a distance does not depend on the kernel that computed it.
  (func $l1 (export "l1") (param $a i32) (param $b i32) (param $f i32) (result f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $acc0 v128) (local $acc1 v128)
    (local $s f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $acc0 (f32x4.add (local.get $acc0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                (v128.load (i32.add (local.get $b) (local.get $i)))))))
        (local.set $acc1 (f32x4.add (local.get $acc1)
          (f32x4.abs (f32x4.sub (v128.load offset=16 (i32.add (local.get $a) (local.get $i)))
                                (v128.load offset=16 (i32.add (local.get $b) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $acc0 (f32x4.add (local.get $acc0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                (v128.load (i32.add (local.get $b) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $s (f32.add (local.get $s)
          (f32.abs (f32.sub (f32.load (i32.add (local.get $a) (local.get $i)))
                            (f32.load (i32.add (local.get $b) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.get $s))

  ;; out[k] = op(q, vector of ids[k]) for k < count; the vector of id starts at base + id·nodeBytes + vOffset.
  ;; Ids are scored 8 at a time (see $multi8_*), the last count mod 8 one by one (dot: 4 more at once first);
  ;; every path sums an id's vector in one order, so its result does not depend on where it falls.

  ;; dot of q against 4 vectors, each lane in $multi8_dot's order: batch_dot's tail of 4-7 ids, so
  ;; a result does not depend on where its id falls in the batch ($dot, for margins, sums otherwise).
  (func $multi_dot (param $q i32) (param $v0 i32) (param $v1 i32) (param $v2 i32) (param $v3 i32) (param $f i32) (param $out i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $v00 v128) (local $v01 v128) (local $sv0 f32) (local $v10 v128) (local $v11 v128) (local $sv1 f32) (local $v20 v128) (local $v21 v128) (local $sv2 f32) (local $v30 v128) (local $v31 v128) (local $sv3 f32) (local $qv v128) (local $d v128) (local $qs f32) (local $x f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $v00 (f32x4.add (local.get $v00) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i))))))
        (local.set $v10 (f32x4.add (local.get $v10) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i))))))
        (local.set $v20 (f32x4.add (local.get $v20) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i))))))
        (local.set $v30 (f32x4.add (local.get $v30) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i))))))
        (local.set $qv (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
        (local.set $v01 (f32x4.add (local.get $v01) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v0) (local.get $i))))))
        (local.set $v11 (f32x4.add (local.get $v11) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v1) (local.get $i))))))
        (local.set $v21 (f32x4.add (local.get $v21) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v2) (local.get $i))))))
        (local.set $v31 (f32x4.add (local.get $v31) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v3) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $v00 (f32x4.add (local.get $v00) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i))))))
        (local.set $v10 (f32x4.add (local.get $v10) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i))))))
        (local.set $v20 (f32x4.add (local.get $v20) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i))))))
        (local.set $v30 (f32x4.add (local.get $v30) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $v00 (f32x4.add (local.get $v00) (local.get $v01)))
    (local.set $sv0 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v00)) (f32x4.extract_lane 1 (local.get $v00)))
      (f32.add (f32x4.extract_lane 2 (local.get $v00)) (f32x4.extract_lane 3 (local.get $v00)))))
    (local.set $v10 (f32x4.add (local.get $v10) (local.get $v11)))
    (local.set $sv1 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v10)) (f32x4.extract_lane 1 (local.get $v10)))
      (f32.add (f32x4.extract_lane 2 (local.get $v10)) (f32x4.extract_lane 3 (local.get $v10)))))
    (local.set $v20 (f32x4.add (local.get $v20) (local.get $v21)))
    (local.set $sv2 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v20)) (f32x4.extract_lane 1 (local.get $v20)))
      (f32.add (f32x4.extract_lane 2 (local.get $v20)) (f32x4.extract_lane 3 (local.get $v20)))))
    (local.set $v30 (f32x4.add (local.get $v30) (local.get $v31)))
    (local.set $sv3 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v30)) (f32x4.extract_lane 1 (local.get $v30)))
      (f32.add (f32x4.extract_lane 2 (local.get $v30)) (f32x4.extract_lane 3 (local.get $v30)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $qs (f32.load (i32.add (local.get $q) (local.get $i))))
        (local.set $sv0 (f32.add (local.get $sv0) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v0) (local.get $i))))))
        (local.set $sv1 (f32.add (local.get $sv1) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v1) (local.get $i))))))
        (local.set $sv2 (f32.add (local.get $sv2) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v2) (local.get $i))))))
        (local.set $sv3 (f32.add (local.get $sv3) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v3) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.store offset=0 (local.get $out) (f64.promote_f32 (local.get $sv0)))
    (f64.store offset=8 (local.get $out) (f64.promote_f32 (local.get $sv1)))
    (f64.store offset=16 (local.get $out) (f64.promote_f32 (local.get $sv2)))
    (f64.store offset=24 (local.get $out) (f64.promote_f32 (local.get $sv3))))

  ;; The rest of one vector's l2 from byte $i, continuing a $multi8_l2 lane's two accumulators in its
  ;; order (so the sum is the one $multi8_l2 and $l2 compute); +inf once the partial sum passes the
  ;; bound. From byte 0 with zero accumulators it scores one vector under the bound.
  (func $l2_from (param $q i32) (param $v i32) (param $i i32) (param $f i32) (param $acc0 v128) (param $acc1 v128) (param $bounds v128) (result f64)
    (local $end i32) (local $end4 i32) (local $end8 i32) (local $d v128) (local $t v128) (local $s f32) (local $x f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (v128.load offset=16 (i32.add (local.get $v) (local.get $i)))))
        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br_if $next8 (i32.and (local.get $i) (i32.const 255)))
        (local.set $t (f32x4.add (local.get $acc0) (local.get $acc1)))
        (local.set $t (f32x4.add (local.get $t) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $t) (local.get $t))))
        (local.set $t (f32x4.add (local.get $t) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $t) (local.get $t))))
        (if (i32x4.extract_lane 0 (f32x4.gt (local.get $t) (local.get $bounds))) (then (return (f64.const inf))))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (f32.sub (f32.load (i32.add (local.get $q) (local.get $i))) (f32.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $s (f32.add (local.get $s) (f32.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.promote_f32 (local.get $s)))

  ;; The rest of one vector's l1 from byte $i, continuing a $multi8_l1 lane's two accumulators in its
  ;; order (so the sum is the one $multi8_l1 and $l1 compute); +inf once the partial sum passes the bound.
  (func $l1_from (param $q i32) (param $v i32) (param $i i32) (param $f i32) (param $acc0 v128) (param $acc1 v128) (param $bounds v128) (result f64)
    (local $end i32) (local $end4 i32) (local $end8 i32) (local $d v128) (local $t v128) (local $s f32) (local $x f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.abs (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (v128.load offset=16 (i32.add (local.get $v) (local.get $i)))))
        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.abs (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br_if $next8 (i32.and (local.get $i) (i32.const 255)))
        (local.set $t (f32x4.add (local.get $acc0) (local.get $acc1)))
        (local.set $t (f32x4.add (local.get $t) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $t) (local.get $t))))
        (local.set $t (f32x4.add (local.get $t) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $t) (local.get $t))))
        (if (i32x4.extract_lane 0 (f32x4.gt (local.get $t) (local.get $bounds))) (then (return (f64.const inf))))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.abs (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (f32.sub (f32.load (i32.add (local.get $q) (local.get $i))) (f32.load (i32.add (local.get $v) (local.get $i)))))
        (local.set $s (f32.add (local.get $s) (f32.abs (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.promote_f32 (local.get $s)))

  ;; dot of q against one vector, summed in $multi8_dot's (and $multi_dot's) per-lane order: batch_dot's
  ;; last count mod 4 ids, so that copies of one vector score alike wherever they fall in the batch.
  (func $dot_lane (param $q i32) (param $v i32) (param $f i32) (result f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32) (local $qv v128) (local $a v128) (local $b v128) (local $s f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $a (f32x4.add (local.get $a) (f32x4.mul (v128.load offset=0 (i32.add (local.get $q) (local.get $i))) (v128.load offset=0 (i32.add (local.get $v) (local.get $i))))))
        (local.set $b (f32x4.add (local.get $b) (f32x4.mul (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (v128.load offset=16 (i32.add (local.get $v) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $a (f32x4.add (local.get $a) (f32x4.mul (v128.load offset=0 (i32.add (local.get $q) (local.get $i))) (v128.load offset=0 (i32.add (local.get $v) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $a (f32x4.add (local.get $a) (local.get $b)))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
      (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (i32.add (local.get $q) (local.get $i))) (f32.load (i32.add (local.get $v) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.get $s))

  ;; dot of q against 8 vectors in one pass (8 load streams, as $multi8_l2); each lane keeps two
  ;; accumulators, as $multi_dot and $dot_lane do (not $dot's four).
  (func $multi8_dot (param $q i32) (param $v0 i32) (param $v1 i32) (param $v2 i32) (param $v3 i32) (param $v4 i32) (param $v5 i32) (param $v6 i32) (param $v7 i32) (param $f i32) (param $out i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32) (local $qv v128) (local $qs f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $b4 v128) (local $b5 v128) (local $b6 v128) (local $b7 v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $s4 f32) (local $s5 f32) (local $s6 f32) (local $s7 f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i))))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v4) (local.get $i))))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v5) (local.get $i))))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v6) (local.get $i))))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v7) (local.get $i))))))
        (local.set $qv (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v0) (local.get $i))))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v1) (local.get $i))))))
        (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v2) (local.get $i))))))
        (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v3) (local.get $i))))))
        (local.set $b4 (f32x4.add (local.get $b4) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v4) (local.get $i))))))
        (local.set $b5 (f32x4.add (local.get $b5) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v5) (local.get $i))))))
        (local.set $b6 (f32x4.add (local.get $b6) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v6) (local.get $i))))))
        (local.set $b7 (f32x4.add (local.get $b7) (f32x4.mul (local.get $qv) (v128.load offset=16 (i32.add (local.get $v7) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i))))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v4) (local.get $i))))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v5) (local.get $i))))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v6) (local.get $i))))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $qv) (v128.load offset=0 (i32.add (local.get $v7) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
    (local.set $s0 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
      (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
    (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
    (local.set $s1 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
      (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1)))))
    (local.set $a2 (f32x4.add (local.get $a2) (local.get $b2)))
    (local.set $s2 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a2)) (f32x4.extract_lane 1 (local.get $a2)))
      (f32.add (f32x4.extract_lane 2 (local.get $a2)) (f32x4.extract_lane 3 (local.get $a2)))))
    (local.set $a3 (f32x4.add (local.get $a3) (local.get $b3)))
    (local.set $s3 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a3)) (f32x4.extract_lane 1 (local.get $a3)))
      (f32.add (f32x4.extract_lane 2 (local.get $a3)) (f32x4.extract_lane 3 (local.get $a3)))))
    (local.set $a4 (f32x4.add (local.get $a4) (local.get $b4)))
    (local.set $s4 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a4)) (f32x4.extract_lane 1 (local.get $a4)))
      (f32.add (f32x4.extract_lane 2 (local.get $a4)) (f32x4.extract_lane 3 (local.get $a4)))))
    (local.set $a5 (f32x4.add (local.get $a5) (local.get $b5)))
    (local.set $s5 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a5)) (f32x4.extract_lane 1 (local.get $a5)))
      (f32.add (f32x4.extract_lane 2 (local.get $a5)) (f32x4.extract_lane 3 (local.get $a5)))))
    (local.set $a6 (f32x4.add (local.get $a6) (local.get $b6)))
    (local.set $s6 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a6)) (f32x4.extract_lane 1 (local.get $a6)))
      (f32.add (f32x4.extract_lane 2 (local.get $a6)) (f32x4.extract_lane 3 (local.get $a6)))))
    (local.set $a7 (f32x4.add (local.get $a7) (local.get $b7)))
    (local.set $s7 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a7)) (f32x4.extract_lane 1 (local.get $a7)))
      (f32.add (f32x4.extract_lane 2 (local.get $a7)) (f32x4.extract_lane 3 (local.get $a7)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $qs (f32.load (i32.add (local.get $q) (local.get $i))))
        (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v0) (local.get $i))))))
        (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v1) (local.get $i))))))
        (local.set $s2 (f32.add (local.get $s2) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v2) (local.get $i))))))
        (local.set $s3 (f32.add (local.get $s3) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v3) (local.get $i))))))
        (local.set $s4 (f32.add (local.get $s4) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v4) (local.get $i))))))
        (local.set $s5 (f32.add (local.get $s5) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v5) (local.get $i))))))
        (local.set $s6 (f32.add (local.get $s6) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v6) (local.get $i))))))
        (local.set $s7 (f32.add (local.get $s7) (f32.mul (local.get $qs) (f32.load (i32.add (local.get $v7) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.store offset=0 (local.get $out) (f64.promote_f32 (local.get $s0)))
    (f64.store offset=8 (local.get $out) (f64.promote_f32 (local.get $s1)))
    (f64.store offset=16 (local.get $out) (f64.promote_f32 (local.get $s2)))
    (f64.store offset=24 (local.get $out) (f64.promote_f32 (local.get $s3)))
    (f64.store offset=32 (local.get $out) (f64.promote_f32 (local.get $s4)))
    (f64.store offset=40 (local.get $out) (f64.promote_f32 (local.get $s5)))
    (f64.store offset=48 (local.get $out) (f64.promote_f32 (local.get $s6)))
    (f64.store offset=56 (local.get $out) (f64.promote_f32 (local.get $s7))))

  ;; l2 of q against 8 vectors in one pass, results as f64 at out, out+8, …: candidates come from all
  ;; over a large index, so scoring waits on memory, not arithmetic, and 8 independent load streams
  ;; keep 8 cache misses in flight (+10-13 % on Fashion-MNIST over 4). Each lane keeps two
  ;; accumulators in $l2's order, so every sum is bit-for-bit the one $l2_from and $l2 make. Every
  ;; 256 bytes the lanes are checked against the bound; once at most four are under it, the
  ;; survivors finish alone (measured best of 1-4).
  (func $multi8_l2 (param $q i32) (param $v0 i32) (param $v1 i32) (param $v2 i32) (param $v3 i32) (param $v4 i32) (param $v5 i32) (param $v6 i32) (param $v7 i32) (param $f i32) (param $out i32) (param $bounds v128)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32) (local $over i32) (local $qv v128) (local $d v128) (local $qs f32) (local $x f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $b4 v128) (local $b5 v128) (local $b6 v128) (local $b7 v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $s4 f32) (local $s5 f32) (local $s6 f32) (local $s7 f32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $pruned
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i))))) (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i))))) (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i))))) (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i))))) (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v4) (local.get $i))))) (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v5) (local.get $i))))) (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v6) (local.get $i))))) (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v7) (local.get $i))))) (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $qv (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v0) (local.get $i))))) (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v1) (local.get $i))))) (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v2) (local.get $i))))) (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v3) (local.get $i))))) (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v4) (local.get $i))))) (local.set $b4 (f32x4.add (local.get $b4) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v5) (local.get $i))))) (local.set $b5 (f32x4.add (local.get $b5) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v6) (local.get $i))))) (local.set $b6 (f32x4.add (local.get $b6) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v7) (local.get $i))))) (local.set $b7 (f32x4.add (local.get $b7) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br_if $next8 (i32.and (local.get $i) (i32.const 255)))
        (local.set $t0 (f32x4.add (local.get $a0) (local.get $b0))) (local.set $t1 (f32x4.add (local.get $a1) (local.get $b1)))
        (local.set $t2 (f32x4.add (local.get $a2) (local.get $b2))) (local.set $t3 (f32x4.add (local.get $a3) (local.get $b3)))
        (local.set $t0 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
        (local.set $t2 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3))))
        (local.set $over (i32x4.bitmask (f32x4.gt
          (f32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t2))
                     (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t2)))
          (local.get $bounds))))
        (local.set $t0 (f32x4.add (local.get $a4) (local.get $b4))) (local.set $t1 (f32x4.add (local.get $a5) (local.get $b5)))
        (local.set $t2 (f32x4.add (local.get $a6) (local.get $b6))) (local.set $t3 (f32x4.add (local.get $a7) (local.get $b7)))
        (local.set $t0 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
        (local.set $t2 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3))))
        (local.set $over (i32.or (local.get $over) (i32.shl (i32x4.bitmask (f32x4.gt
          (f32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t2))
                     (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t2)))
          (local.get $bounds))) (i32.const 4))))
        (br_if $pruned (i32.eq (local.get $over) (i32.const 255)))
        (br_if $next8 (i32.lt_u (i32.popcnt (local.get $over)) (i32.const 4)))
        (f64.store offset=0 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 1)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v0) (local.get $i) (local.get $f) (local.get $a0) (local.get $b0) (local.get $bounds)))))
        (f64.store offset=8 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 2)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v1) (local.get $i) (local.get $f) (local.get $a1) (local.get $b1) (local.get $bounds)))))
        (f64.store offset=16 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 4)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v2) (local.get $i) (local.get $f) (local.get $a2) (local.get $b2) (local.get $bounds)))))
        (f64.store offset=24 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 8)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v3) (local.get $i) (local.get $f) (local.get $a3) (local.get $b3) (local.get $bounds)))))
        (f64.store offset=32 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 16)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v4) (local.get $i) (local.get $f) (local.get $a4) (local.get $b4) (local.get $bounds)))))
        (f64.store offset=40 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 32)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v5) (local.get $i) (local.get $f) (local.get $a5) (local.get $b5) (local.get $bounds)))))
        (f64.store offset=48 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 64)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v6) (local.get $i) (local.get $f) (local.get $a6) (local.get $b6) (local.get $bounds)))))
        (f64.store offset=56 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 128)) (then (f64.const inf))
          (else (call $l2_from (local.get $q) (local.get $v7) (local.get $i) (local.get $f) (local.get $a7) (local.get $b7) (local.get $bounds)))))
        (return)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i))))) (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i))))) (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i))))) (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i))))) (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v4) (local.get $i))))) (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v5) (local.get $i))))) (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v6) (local.get $i))))) (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v7) (local.get $i))))) (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
    (local.set $s0 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
      (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
    (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
    (local.set $s1 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
      (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1)))))
    (local.set $a2 (f32x4.add (local.get $a2) (local.get $b2)))
    (local.set $s2 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a2)) (f32x4.extract_lane 1 (local.get $a2)))
      (f32.add (f32x4.extract_lane 2 (local.get $a2)) (f32x4.extract_lane 3 (local.get $a2)))))
    (local.set $a3 (f32x4.add (local.get $a3) (local.get $b3)))
    (local.set $s3 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a3)) (f32x4.extract_lane 1 (local.get $a3)))
      (f32.add (f32x4.extract_lane 2 (local.get $a3)) (f32x4.extract_lane 3 (local.get $a3)))))
    (local.set $a4 (f32x4.add (local.get $a4) (local.get $b4)))
    (local.set $s4 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a4)) (f32x4.extract_lane 1 (local.get $a4)))
      (f32.add (f32x4.extract_lane 2 (local.get $a4)) (f32x4.extract_lane 3 (local.get $a4)))))
    (local.set $a5 (f32x4.add (local.get $a5) (local.get $b5)))
    (local.set $s5 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a5)) (f32x4.extract_lane 1 (local.get $a5)))
      (f32.add (f32x4.extract_lane 2 (local.get $a5)) (f32x4.extract_lane 3 (local.get $a5)))))
    (local.set $a6 (f32x4.add (local.get $a6) (local.get $b6)))
    (local.set $s6 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a6)) (f32x4.extract_lane 1 (local.get $a6)))
      (f32.add (f32x4.extract_lane 2 (local.get $a6)) (f32x4.extract_lane 3 (local.get $a6)))))
    (local.set $a7 (f32x4.add (local.get $a7) (local.get $b7)))
    (local.set $s7 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a7)) (f32x4.extract_lane 1 (local.get $a7)))
      (f32.add (f32x4.extract_lane 2 (local.get $a7)) (f32x4.extract_lane 3 (local.get $a7)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $qs (f32.load (i32.add (local.get $q) (local.get $i))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v0) (local.get $i))))) (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v1) (local.get $i))))) (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v2) (local.get $i))))) (local.set $s2 (f32.add (local.get $s2) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v3) (local.get $i))))) (local.set $s3 (f32.add (local.get $s3) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v4) (local.get $i))))) (local.set $s4 (f32.add (local.get $s4) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v5) (local.get $i))))) (local.set $s5 (f32.add (local.get $s5) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v6) (local.get $i))))) (local.set $s6 (f32.add (local.get $s6) (f32.mul (local.get $x) (local.get $x))))
        (local.set $x (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v7) (local.get $i))))) (local.set $s7 (f32.add (local.get $s7) (f32.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.store offset=0 (local.get $out) (f64.promote_f32 (local.get $s0)))
    (f64.store offset=8 (local.get $out) (f64.promote_f32 (local.get $s1)))
    (f64.store offset=16 (local.get $out) (f64.promote_f32 (local.get $s2)))
    (f64.store offset=24 (local.get $out) (f64.promote_f32 (local.get $s3)))
    (f64.store offset=32 (local.get $out) (f64.promote_f32 (local.get $s4)))
    (f64.store offset=40 (local.get $out) (f64.promote_f32 (local.get $s5)))
    (f64.store offset=48 (local.get $out) (f64.promote_f32 (local.get $s6)))
    (f64.store offset=56 (local.get $out) (f64.promote_f32 (local.get $s7)))
    (return))
    (f64.store offset=0 (local.get $out) (f64.const inf))
    (f64.store offset=8 (local.get $out) (f64.const inf))
    (f64.store offset=16 (local.get $out) (f64.const inf))
    (f64.store offset=24 (local.get $out) (f64.const inf))
    (f64.store offset=32 (local.get $out) (f64.const inf))
    (f64.store offset=40 (local.get $out) (f64.const inf))
    (f64.store offset=48 (local.get $out) (f64.const inf))
    (f64.store offset=56 (local.get $out) (f64.const inf)))

  ;; l1 of q against 8 vectors in one pass, as $multi8_l2.
  (func $multi8_l1 (param $q i32) (param $v0 i32) (param $v1 i32) (param $v2 i32) (param $v3 i32) (param $v4 i32) (param $v5 i32) (param $v6 i32) (param $v7 i32) (param $f i32) (param $out i32) (param $bounds v128)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32) (local $over i32) (local $qv v128) (local $d v128) (local $qs f32) (local $x f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $b4 v128) (local $b5 v128) (local $b6 v128) (local $b7 v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $s4 f32) (local $s5 f32) (local $s6 f32) (local $s7 f32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $pruned
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i)))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i)))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i)))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i)))))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v4) (local.get $i)))))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v5) (local.get $i)))))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v6) (local.get $i)))))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v7) (local.get $i)))))))
        (local.set $qv (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v0) (local.get $i)))))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v1) (local.get $i)))))))
        (local.set $b2 (f32x4.add (local.get $b2) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v2) (local.get $i)))))))
        (local.set $b3 (f32x4.add (local.get $b3) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v3) (local.get $i)))))))
        (local.set $b4 (f32x4.add (local.get $b4) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v4) (local.get $i)))))))
        (local.set $b5 (f32x4.add (local.get $b5) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v5) (local.get $i)))))))
        (local.set $b6 (f32x4.add (local.get $b6) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v6) (local.get $i)))))))
        (local.set $b7 (f32x4.add (local.get $b7) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=16 (i32.add (local.get $v7) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br_if $next8 (i32.and (local.get $i) (i32.const 255)))
        (local.set $t0 (f32x4.add (local.get $a0) (local.get $b0))) (local.set $t1 (f32x4.add (local.get $a1) (local.get $b1)))
        (local.set $t2 (f32x4.add (local.get $a2) (local.get $b2))) (local.set $t3 (f32x4.add (local.get $a3) (local.get $b3)))
        (local.set $t0 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
        (local.set $t2 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3))))
        (local.set $over (i32x4.bitmask (f32x4.gt
          (f32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t2))
                     (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t2)))
          (local.get $bounds))))
        (local.set $t0 (f32x4.add (local.get $a4) (local.get $b4))) (local.set $t1 (f32x4.add (local.get $a5) (local.get $b5)))
        (local.set $t2 (f32x4.add (local.get $a6) (local.get $b6))) (local.set $t3 (f32x4.add (local.get $a7) (local.get $b7)))
        (local.set $t0 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
        (local.set $t2 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3))
                                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3))))
        (local.set $over (i32.or (local.get $over) (i32.shl (i32x4.bitmask (f32x4.gt
          (f32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t2))
                     (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t2)))
          (local.get $bounds))) (i32.const 4))))
        (br_if $pruned (i32.eq (local.get $over) (i32.const 255)))
        (br_if $next8 (i32.lt_u (i32.popcnt (local.get $over)) (i32.const 4)))
        (f64.store offset=0 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 1)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v0) (local.get $i) (local.get $f) (local.get $a0) (local.get $b0) (local.get $bounds)))))
        (f64.store offset=8 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 2)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v1) (local.get $i) (local.get $f) (local.get $a1) (local.get $b1) (local.get $bounds)))))
        (f64.store offset=16 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 4)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v2) (local.get $i) (local.get $f) (local.get $a2) (local.get $b2) (local.get $bounds)))))
        (f64.store offset=24 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 8)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v3) (local.get $i) (local.get $f) (local.get $a3) (local.get $b3) (local.get $bounds)))))
        (f64.store offset=32 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 16)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v4) (local.get $i) (local.get $f) (local.get $a4) (local.get $b4) (local.get $bounds)))))
        (f64.store offset=40 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 32)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v5) (local.get $i) (local.get $f) (local.get $a5) (local.get $b5) (local.get $bounds)))))
        (f64.store offset=48 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 64)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v6) (local.get $i) (local.get $f) (local.get $a6) (local.get $b6) (local.get $bounds)))))
        (f64.store offset=56 (local.get $out) (if (result f64) (i32.and (local.get $over) (i32.const 128)) (then (f64.const inf))
          (else (call $l1_from (local.get $q) (local.get $v7) (local.get $i) (local.get $f) (local.get $a7) (local.get $b7) (local.get $bounds)))))
        (return)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $qv (v128.load offset=0 (i32.add (local.get $q) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v0) (local.get $i)))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v1) (local.get $i)))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v2) (local.get $i)))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v3) (local.get $i)))))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v4) (local.get $i)))))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v5) (local.get $i)))))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v6) (local.get $i)))))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.abs (f32x4.sub (local.get $qv) (v128.load offset=0 (i32.add (local.get $v7) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
    (local.set $s0 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
      (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
    (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
    (local.set $s1 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
      (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1)))))
    (local.set $a2 (f32x4.add (local.get $a2) (local.get $b2)))
    (local.set $s2 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a2)) (f32x4.extract_lane 1 (local.get $a2)))
      (f32.add (f32x4.extract_lane 2 (local.get $a2)) (f32x4.extract_lane 3 (local.get $a2)))))
    (local.set $a3 (f32x4.add (local.get $a3) (local.get $b3)))
    (local.set $s3 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a3)) (f32x4.extract_lane 1 (local.get $a3)))
      (f32.add (f32x4.extract_lane 2 (local.get $a3)) (f32x4.extract_lane 3 (local.get $a3)))))
    (local.set $a4 (f32x4.add (local.get $a4) (local.get $b4)))
    (local.set $s4 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a4)) (f32x4.extract_lane 1 (local.get $a4)))
      (f32.add (f32x4.extract_lane 2 (local.get $a4)) (f32x4.extract_lane 3 (local.get $a4)))))
    (local.set $a5 (f32x4.add (local.get $a5) (local.get $b5)))
    (local.set $s5 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a5)) (f32x4.extract_lane 1 (local.get $a5)))
      (f32.add (f32x4.extract_lane 2 (local.get $a5)) (f32x4.extract_lane 3 (local.get $a5)))))
    (local.set $a6 (f32x4.add (local.get $a6) (local.get $b6)))
    (local.set $s6 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a6)) (f32x4.extract_lane 1 (local.get $a6)))
      (f32.add (f32x4.extract_lane 2 (local.get $a6)) (f32x4.extract_lane 3 (local.get $a6)))))
    (local.set $a7 (f32x4.add (local.get $a7) (local.get $b7)))
    (local.set $s7 (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a7)) (f32x4.extract_lane 1 (local.get $a7)))
      (f32.add (f32x4.extract_lane 2 (local.get $a7)) (f32x4.extract_lane 3 (local.get $a7)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $qs (f32.load (i32.add (local.get $q) (local.get $i))))
        (local.set $s0 (f32.add (local.get $s0) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v0) (local.get $i)))))))
        (local.set $s1 (f32.add (local.get $s1) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v1) (local.get $i)))))))
        (local.set $s2 (f32.add (local.get $s2) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v2) (local.get $i)))))))
        (local.set $s3 (f32.add (local.get $s3) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v3) (local.get $i)))))))
        (local.set $s4 (f32.add (local.get $s4) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v4) (local.get $i)))))))
        (local.set $s5 (f32.add (local.get $s5) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v5) (local.get $i)))))))
        (local.set $s6 (f32.add (local.get $s6) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v6) (local.get $i)))))))
        (local.set $s7 (f32.add (local.get $s7) (f32.abs (f32.sub (local.get $qs) (f32.load (i32.add (local.get $v7) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.store offset=0 (local.get $out) (f64.promote_f32 (local.get $s0)))
    (f64.store offset=8 (local.get $out) (f64.promote_f32 (local.get $s1)))
    (f64.store offset=16 (local.get $out) (f64.promote_f32 (local.get $s2)))
    (f64.store offset=24 (local.get $out) (f64.promote_f32 (local.get $s3)))
    (f64.store offset=32 (local.get $out) (f64.promote_f32 (local.get $s4)))
    (f64.store offset=40 (local.get $out) (f64.promote_f32 (local.get $s5)))
    (f64.store offset=48 (local.get $out) (f64.promote_f32 (local.get $s6)))
    (f64.store offset=56 (local.get $out) (f64.promote_f32 (local.get $s7)))
    (return))
    (f64.store offset=0 (local.get $out) (f64.const inf))
    (f64.store offset=8 (local.get $out) (f64.const inf))
    (f64.store offset=16 (local.get $out) (f64.const inf))
    (f64.store offset=24 (local.get $out) (f64.const inf))
    (f64.store offset=32 (local.get $out) (f64.const inf))
    (f64.store offset=40 (local.get $out) (f64.const inf))
    (f64.store offset=48 (local.get $out) (f64.const inf))
    (f64.store offset=56 (local.get $out) (f64.const inf)))

  ;; Touches the first lines of the next group's four vectors (one i32 load per 64-byte line, up
  ;; to $bytes, never past a vector's end) before the current group is scored: WebAssembly
  ;; has no prefetch instruction, but a load whose value is unused still starts the cache miss, so
  ;; the next group's memory latency overlaps this group's arithmetic. 1 KiB measured best on
  ;; Fashion-MNIST (+5-6 % at search_k 1000 against none; 2 KiB was worse than 1 KiB: lines a
  ;; pruned vector never needs cost bandwidth).
  (func $prefetch4 (param $base i32) (param $ids i32) (param $nodeBytes i32) (param $bytes i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $o i32)
    (local.set $p0 (i32.add (local.get $base) (i32.mul (i32.load offset=0 (local.get $ids)) (local.get $nodeBytes))))
    (local.set $p1 (i32.add (local.get $base) (i32.mul (i32.load offset=4 (local.get $ids)) (local.get $nodeBytes))))
    (local.set $p2 (i32.add (local.get $base) (i32.mul (i32.load offset=8 (local.get $ids)) (local.get $nodeBytes))))
    (local.set $p3 (i32.add (local.get $base) (i32.mul (i32.load offset=12 (local.get $ids)) (local.get $nodeBytes))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $o) (local.get $bytes)))
        (drop (i32.load (i32.add (local.get $p0) (local.get $o))))
        (drop (i32.load (i32.add (local.get $p1) (local.get $o))))
        (drop (i32.load (i32.add (local.get $p2) (local.get $o))))
        (drop (i32.load (i32.add (local.get $p3) (local.get $o))))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (br $next))))

  ;; Bytes of each vector $prefetch4 touches: the vector, at most 1 KiB.
  (func $prefetch_bytes (param $f i32) (result i32)
    (select (i32.const 1024) (i32.shl (local.get $f) (i32.const 2)) (i32.gt_u (i32.shl (local.get $f) (i32.const 2)) (i32.const 1024))))

  (func (export "batch_dot")
    (param $q i32) (param $ids i32) (param $count i32) (param $base i32) (param $nodeBytes i32)
    (param $vOffset i32) (param $f i32) (param $out i32)
    (local $end i32) (local $end4 i32) (local $end8 i32) (local $ahead i32)
    (local.set $ahead (call $prefetch_bytes (local.get $f)))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $ids) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    (local.set $end8 (i32.add (local.get $ids) (i32.shl (i32.and (local.get $count) (i32.const -8)) (i32.const 2))))
    (local.set $base (i32.add (local.get $base) (local.get $vOffset)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end8)))
        (if (i32.lt_u (i32.add (local.get $ids) (i32.const 32)) (local.get $end8))
          (then
            (call $prefetch4 (local.get $base) (i32.add (local.get $ids) (i32.const 32)) (local.get $nodeBytes) (local.get $ahead))
            (call $prefetch4 (local.get $base) (i32.add (local.get $ids) (i32.const 48)) (local.get $nodeBytes) (local.get $ahead))))
        (call $multi8_dot (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load offset=0 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=4 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=8 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=12 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=16 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=20 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=24 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=28 (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f) (local.get $out))
        (local.set $ids (i32.add (local.get $ids) (i32.const 32)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (br $next)))
    ;; Four to seven left: one group of four, then one at a time.
    (if (i32.lt_u (local.get $ids) (local.get $end4))
      (then
        (call $multi_dot (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load offset=0 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=4 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=8 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=12 (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f) (local.get $out))
        (local.set $ids (i32.add (local.get $ids) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))))
    (block $rest
      (loop $one
        (br_if $rest (i32.ge_u (local.get $ids) (local.get $end)))
        (f64.store (local.get $out) (f64.promote_f32 (call $dot_lane (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f))))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $one))))
  (func (export "batch_l2")
    (param $q i32) (param $ids i32) (param $count i32) (param $base i32) (param $nodeBytes i32)
    (param $vOffset i32) (param $f i32) (param $out i32) (param $bound f32)
    (local $end i32) (local $end8 i32) (local $bounds v128) (local $ahead i32)
    (local.set $ahead (call $prefetch_bytes (local.get $f)))
    (local.set $bounds (f32x4.splat (f32.mul (local.get $bound) (f32.const 0x1.0001p+0))))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $end8 (i32.add (local.get $ids) (i32.shl (i32.and (local.get $count) (i32.const -8)) (i32.const 2))))
    (local.set $base (i32.add (local.get $base) (local.get $vOffset)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end8)))
        (if (i32.lt_u (i32.add (local.get $ids) (i32.const 32)) (local.get $end8))
          (then
            (call $prefetch4 (local.get $base) (i32.add (local.get $ids) (i32.const 32)) (local.get $nodeBytes) (local.get $ahead))
            (call $prefetch4 (local.get $base) (i32.add (local.get $ids) (i32.const 48)) (local.get $nodeBytes) (local.get $ahead))))
        (call $multi8_l2 (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load offset=0 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=4 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=8 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=12 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=16 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=20 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=24 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=28 (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f) (local.get $out) (local.get $bounds))
        (local.set $ids (i32.add (local.get $ids) (i32.const 32)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (br $next)))
    (block $rest
      (loop $one
        (br_if $rest (i32.ge_u (local.get $ids) (local.get $end)))
        (f64.store (local.get $out) (call $l2_from (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load (local.get $ids)) (local.get $nodeBytes)))
          (i32.const 0) (local.get $f) (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (local.get $bounds)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $one))))
  (func (export "batch_l1")
    (param $q i32) (param $ids i32) (param $count i32) (param $base i32) (param $nodeBytes i32)
    (param $vOffset i32) (param $f i32) (param $out i32) (param $bound f32)
    (local $end i32) (local $end8 i32) (local $bounds v128) (local $ahead i32)
    (local.set $ahead (call $prefetch_bytes (local.get $f)))
    (local.set $bounds (f32x4.splat (f32.mul (local.get $bound) (f32.const 0x1.0001p+0))))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $end8 (i32.add (local.get $ids) (i32.shl (i32.and (local.get $count) (i32.const -8)) (i32.const 2))))
    (local.set $base (i32.add (local.get $base) (local.get $vOffset)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end8)))
        (if (i32.lt_u (i32.add (local.get $ids) (i32.const 32)) (local.get $end8))
          (then
            (call $prefetch4 (local.get $base) (i32.add (local.get $ids) (i32.const 32)) (local.get $nodeBytes) (local.get $ahead))
            (call $prefetch4 (local.get $base) (i32.add (local.get $ids) (i32.const 48)) (local.get $nodeBytes) (local.get $ahead))))
        (call $multi8_l1 (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load offset=0 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=4 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=8 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=12 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=16 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=20 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=24 (local.get $ids)) (local.get $nodeBytes)))
          (i32.add (local.get $base) (i32.mul (i32.load offset=28 (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f) (local.get $out) (local.get $bounds))
        (local.set $ids (i32.add (local.get $ids) (i32.const 32)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (br $next)))
    (block $rest
      (loop $one
        (br_if $rest (i32.ge_u (local.get $ids) (local.get $end)))
        (f64.store (local.get $out) (call $l1_from (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load (local.get $ids)) (local.get $nodeBytes)))
          (i32.const 0) (local.get $f) (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (local.get $bounds)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $one))))

  ;; ---- two_means: Annoy's build-time 2-means, the whole 200-step loop in one call.
  ;;
  ;; JS draws the random item ids (so builds stay seeded by its KISS stream) and this runs the
  ;; arithmetic: per step two distances and one running-mean update over `f` floats. Centroids are
  ;; float32 like Annoy's; counts, weights and the extra coordinate stay f64 like the JS fallback,
  ;; so both agree up to float32 rounding.

  ;; [Σa, Σb, Σc, Σd] from four accumulators, by two rounds of pairwise lane shuffles.
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    (local.set $ab (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; [sa, sb, sc, 0]: the scalar tails of a pair kernel as one vector.
  (func $lanes3 (param $a f32) (param $b f32) (param $c f32) (result v128)
    (f32x4.replace_lane 2
      (f32x4.replace_lane 1
        (f32x4.replace_lane 0 (v128.const f32x4 0 0 0 0) (local.get $a))
        (local.get $b))
      (local.get $c)))

  ;; [p·v, q·v, v·v, 0] in one pass over v (the item is loaded once for both centroids).
  (func $pair_dot (param $p i32) (param $q i32) (param $v i32) (param $f i32) (result v128)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $x v128) (local $y v128)
    (local $p0 v128) (local $p1 v128) (local $q0 v128) (local $q1 v128) (local $v0 v128) (local $v1 v128)
    (local $w f32) (local $sp f32) (local $sq f32) (local $sv f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $y (v128.load offset=16 (i32.add (local.get $v) (local.get $i))))
        (local.set $p0 (f32x4.add (local.get $p0) (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $x))))
        (local.set $q0 (f32x4.add (local.get $q0) (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $x))))
        (local.set $v0 (f32x4.add (local.get $v0) (f32x4.mul (local.get $x) (local.get $x))))
        (local.set $p1 (f32x4.add (local.get $p1) (f32x4.mul (v128.load offset=16 (i32.add (local.get $p) (local.get $i))) (local.get $y))))
        (local.set $q1 (f32x4.add (local.get $q1) (f32x4.mul (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (local.get $y))))
        (local.set $v1 (f32x4.add (local.get $v1) (f32x4.mul (local.get $y) (local.get $y))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (if (i32.lt_u (local.get $i) (local.get $end4))
      (then
        (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $p0 (f32x4.add (local.get $p0) (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $x))))
        (local.set $q0 (f32x4.add (local.get $q0) (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $x))))
        (local.set $v0 (f32x4.add (local.get $v0) (f32x4.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $w (f32.load (i32.add (local.get $v) (local.get $i))))
        (local.set $sp (f32.add (local.get $sp) (f32.mul (f32.load (i32.add (local.get $p) (local.get $i))) (local.get $w))))
        (local.set $sq (f32.add (local.get $sq) (f32.mul (f32.load (i32.add (local.get $q) (local.get $i))) (local.get $w))))
        (local.set $sv (f32.add (local.get $sv) (f32.mul (local.get $w) (local.get $w))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f32x4.add
      (call $hsum4 (f32x4.add (local.get $p0) (local.get $p1)) (f32x4.add (local.get $q0) (local.get $q1))
                   (f32x4.add (local.get $v0) (local.get $v1)) (v128.const f32x4 0 0 0 0))
      (call $lanes3 (local.get $sp) (local.get $sq) (local.get $sv))))

  ;; [Σ(p−v)², Σ(q−v)², 0, 0]
  (func $pair_l2 (param $p i32) (param $q i32) (param $v i32) (param $f i32) (result v128)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $x v128) (local $y v128) (local $d v128)
    (local $p0 v128) (local $p1 v128) (local $q0 v128) (local $q1 v128)
    (local $w f32) (local $t f32) (local $sp f32) (local $sq f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $y (v128.load offset=16 (i32.add (local.get $v) (local.get $i))))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $x)))
        (local.set $p0 (f32x4.add (local.get $p0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $x)))
        (local.set $q0 (f32x4.add (local.get $q0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $p) (local.get $i))) (local.get $y)))
        (local.set $p1 (f32x4.add (local.get $p1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (local.get $y)))
        (local.set $q1 (f32x4.add (local.get $q1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (if (i32.lt_u (local.get $i) (local.get $end4))
      (then
        (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $x)))
        (local.set $p0 (f32x4.add (local.get $p0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $x)))
        (local.set $q0 (f32x4.add (local.get $q0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $w (f32.load (i32.add (local.get $v) (local.get $i))))
        (local.set $t (f32.sub (f32.load (i32.add (local.get $p) (local.get $i))) (local.get $w)))
        (local.set $sp (f32.add (local.get $sp) (f32.mul (local.get $t) (local.get $t))))
        (local.set $t (f32.sub (f32.load (i32.add (local.get $q) (local.get $i))) (local.get $w)))
        (local.set $sq (f32.add (local.get $sq) (f32.mul (local.get $t) (local.get $t))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f32x4.add
      (call $hsum4 (f32x4.add (local.get $p0) (local.get $p1)) (f32x4.add (local.get $q0) (local.get $q1))
                   (v128.const f32x4 0 0 0 0) (v128.const f32x4 0 0 0 0))
      (call $lanes3 (local.get $sp) (local.get $sq) (f32.const 0))))

  ;; [Σ|p−v|, Σ|q−v|, 0, 0]
  (func $pair_l1 (param $p i32) (param $q i32) (param $v i32) (param $f i32) (result v128)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $x v128) (local $y v128)
    (local $p0 v128) (local $p1 v128) (local $q0 v128) (local $q1 v128)
    (local $w f32) (local $sp f32) (local $sq f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $y (v128.load offset=16 (i32.add (local.get $v) (local.get $i))))
        (local.set $p0 (f32x4.add (local.get $p0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $x)))))
        (local.set $q0 (f32x4.add (local.get $q0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $x)))))
        (local.set $p1 (f32x4.add (local.get $p1)
          (f32x4.abs (f32x4.sub (v128.load offset=16 (i32.add (local.get $p) (local.get $i))) (local.get $y)))))
        (local.set $q1 (f32x4.add (local.get $q1)
          (f32x4.abs (f32x4.sub (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (local.get $y)))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (if (i32.lt_u (local.get $i) (local.get $end4))
      (then
        (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
        (local.set $p0 (f32x4.add (local.get $p0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $x)))))
        (local.set $q0 (f32x4.add (local.get $q0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $x)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $w (f32.load (i32.add (local.get $v) (local.get $i))))
        (local.set $sp (f32.add (local.get $sp)
          (f32.abs (f32.sub (f32.load (i32.add (local.get $p) (local.get $i))) (local.get $w)))))
        (local.set $sq (f32.add (local.get $sq)
          (f32.abs (f32.sub (f32.load (i32.add (local.get $q) (local.get $i))) (local.get $w)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f32x4.add
      (call $hsum4 (f32x4.add (local.get $p0) (local.get $p1)) (f32x4.add (local.get $q0) (local.get $q1))
                   (v128.const f32x4 0 0 0 0) (v128.const f32x4 0 0 0 0))
      (call $lanes3 (local.get $sp) (local.get $sq) (f32.const 0))))

  ;; c ← c·keep + v·add in place; returns the new |c|² (the cached norm angular distances need).
  (func $update (param $c i32) (param $v i32) (param $f i32) (param $keep f32) (param $add f32) (result f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end8 i32)
    (local $k v128) (local $a v128) (local $x v128) (local $y v128) (local $s0 v128) (local $s1 v128)
    (local $t f32) (local $s f32)
    (local.set $k (f32x4.splat (local.get $keep)))
    (local.set $a (f32x4.splat (local.get $add)))
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done8
      (loop $next8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $x (f32x4.add
          (f32x4.mul (v128.load (i32.add (local.get $c) (local.get $i))) (local.get $k))
          (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $a))))
        (local.set $y (f32x4.add
          (f32x4.mul (v128.load offset=16 (i32.add (local.get $c) (local.get $i))) (local.get $k))
          (f32x4.mul (v128.load offset=16 (i32.add (local.get $v) (local.get $i))) (local.get $a))))
        (v128.store (i32.add (local.get $c) (local.get $i)) (local.get $x))
        (v128.store offset=16 (i32.add (local.get $c) (local.get $i)) (local.get $y))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (local.get $x))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $y) (local.get $y))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $next8)))
    (if (i32.lt_u (local.get $i) (local.get $end4))
      (then
        (local.set $x (f32x4.add
          (f32x4.mul (v128.load (i32.add (local.get $c) (local.get $i))) (local.get $k))
          (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $a))))
        (v128.store (i32.add (local.get $c) (local.get $i)) (local.get $x))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $t (f32.add
          (f32.mul (f32.load (i32.add (local.get $c) (local.get $i))) (local.get $keep))
          (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $add))))
        (f32.store (i32.add (local.get $c) (local.get $i)) (local.get $t))
        (local.set $s (f32.add (local.get $s) (f32.mul (local.get $t) (local.get $t))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.set $s0 (f32x4.add (local.get $s0) (local.get $s1)))
    (f32.add (local.get $s)
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
        (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))))

  ;; dst[i] = src[i] for i < f
  (func $copy (param $dst i32) (param $src i32) (param $f i32)
    (local $i i32) (local $end i32) (local $end4 i32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $dst) (local.get $i)) (v128.load (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $dst) (local.get $i)) (f32.load (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1))))

  ;; Scales (c, extra) to unit length; returns the new extra. A zero (or NaN) vector stays as it is.
  (func $normalize (param $c i32) (param $f i32) (param $extra f64) (result f64)
    (local $norm f64) (local $i i32) (local $end i32) (local $end4 i32) (local $d v128) (local $n f32)
    (local.set $norm (f64.sqrt (f64.add (f64.mul (local.get $extra) (local.get $extra))
                                        (f64.promote_f32 (call $dot (local.get $c) (local.get $c) (local.get $f))))))
    (if (i32.eqz (f64.gt (local.get $norm) (f64.const 0))) (then (return (local.get $extra))))
    (local.set $n (f32.demote_f64 (local.get $norm)))
    (local.set $d (f32x4.splat (local.get $n)))
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $c) (local.get $i))
          (f32x4.div (v128.load (i32.add (local.get $c) (local.get $i))) (local.get $d)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next4)))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $c) (local.get $i))
          (f32.div (f32.load (i32.add (local.get $c) (local.get $i))) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (f64.div (local.get $extra) (local.get $norm)))

  ;; samples: 202 i32 item ids (seed i, seed j, then one per step). mode: 0 angular (|v|² f32 at
  ;; node + extraOffset), 1 dot (dot_factor f32 at node + extraOffset, the extra coordinate),
  ;; 2 euclidean, 3 manhattan. Writes the centroids to p and q (f32[f] each, 16-byte aligned) and
  ;; their extra coordinates as two f64 at `extras` (8-byte aligned).
  (func (export "two_means")
    (param $samples i32) (param $base i32) (param $nodeBytes i32) (param $vOffset i32) (param $f i32)
    (param $mode i32) (param $extraOffset i32) (param $p i32) (param $q i32) (param $extras i32)
    (local $cosine i32) (local $node i32) (local $v i32) (local $s i32) (local $end i32)
    (local $r v128) (local $cc v128) (local $w f32) (local $pSq f32) (local $qSq f32)
    (local $pExtra f64) (local $qExtra f64)
    (local $ic f64) (local $jc f64) (local $di f64) (local $dj f64) (local $norm f64) (local $keep f64) (local $add f64)
    (local.set $cosine (i32.lt_u (local.get $mode) (i32.const 2)))

    (local.set $node (i32.add (local.get $base) (i32.mul (i32.load (local.get $samples)) (local.get $nodeBytes))))
    (call $copy (local.get $p) (i32.add (local.get $node) (local.get $vOffset)) (local.get $f))
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then (local.set $pExtra (f64.promote_f32 (f32.load (i32.add (local.get $node) (local.get $extraOffset)))))))
    (local.set $node (i32.add (local.get $base) (i32.mul (i32.load offset=4 (local.get $samples)) (local.get $nodeBytes))))
    (call $copy (local.get $q) (i32.add (local.get $node) (local.get $vOffset)) (local.get $f))
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then (local.set $qExtra (f64.promote_f32 (f32.load (i32.add (local.get $node) (local.get $extraOffset)))))))
    (if (local.get $cosine)
      (then
        (local.set $pExtra (call $normalize (local.get $p) (local.get $f) (local.get $pExtra)))
        (local.set $qExtra (call $normalize (local.get $q) (local.get $f) (local.get $qExtra)))))
    (local.set $pSq (call $dot (local.get $p) (local.get $p) (local.get $f)))
    (local.set $qSq (call $dot (local.get $q) (local.get $q) (local.get $f)))
    (local.set $ic (f64.const 1))
    (local.set $jc (f64.const 1))

    (local.set $s (i32.add (local.get $samples) (i32.const 8)))
    (local.set $end (i32.add (local.get $samples) (i32.const 808)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
        (local.set $node (i32.add (local.get $base) (i32.mul (i32.load (local.get $s)) (local.get $nodeBytes))))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (local.set $v (i32.add (local.get $node) (local.get $vOffset)))
        (local.set $norm (f64.const 1))
        ;; $r lanes 0 and 1 become the two unweighted distances.
        (block $measured
          (if (i32.eq (local.get $mode) (i32.const 2))
            (then
              (local.set $r (call $pair_l2 (local.get $p) (local.get $q) (local.get $v) (local.get $f)))
              (br $measured)))
          (if (i32.eq (local.get $mode) (i32.const 3))
            (then
              (local.set $r (call $pair_l1 (local.get $p) (local.get $q) (local.get $v) (local.get $f)))
              (br $measured)))
          (local.set $r (call $pair_dot (local.get $p) (local.get $q) (local.get $v) (local.get $f)))
          (if (local.get $mode)
            (then
              ;; Annoy 1.17's two_means leaves dot_factor out of the distance, the norm and the mean:
              ;; only the seed points' normalisation uses it (and so the split's dot_factor).
              (local.set $norm (f64.sqrt (f64.promote_f32 (f32x4.extract_lane 2 (local.get $r)))))
              (local.set $r (f32x4.neg (local.get $r))))
            (else
              ;; Angular nodes store |v|² at extraOffset.
              (local.set $w (f32.load (i32.add (local.get $node) (local.get $extraOffset))))
              (local.set $norm (f64.sqrt (f64.promote_f32 (local.get $w))))
              ;; Annoy's angular distance 2 − 2·pq/√(|c|²·|v|²) in float32 (2 when either vector is zero),
              ;; for both centroids at once: lane by lane the same steps as two scalar calls (5-7 % less
              ;; time per step than calling a scalar function twice; 8 alternating runs, f = 40).
              (local.set $cc (f32x4.mul
                (f32x4.replace_lane 1 (f32x4.splat (local.get $pSq)) (local.get $qSq))
                (f32x4.splat (local.get $w))))
              (local.set $r (v128.bitselect
                (f32x4.sub (v128.const f32x4 2 2 2 2)
                  (f32x4.div (f32x4.mul (v128.const f32x4 2 2 2 2) (local.get $r)) (f32x4.sqrt (local.get $cc))))
                (v128.const f32x4 2 2 2 2)
                (f32x4.gt (local.get $cc) (v128.const f32x4 0 0 0 0))))))
          ;; A zero item has no direction to average in: skip it, as Annoy does.
          (br_if $next (i32.eqz (f64.gt (local.get $norm) (f64.const 0)))))
        (local.set $di (f64.mul (local.get $ic) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $r)))))
        (local.set $dj (f64.mul (local.get $jc) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $r)))))
        (if (f64.lt (local.get $di) (local.get $dj))
          (then
            (local.set $keep (f64.div (local.get $ic) (f64.add (local.get $ic) (f64.const 1))))
            (local.set $add (f64.div (f64.const 1) (f64.mul (local.get $norm) (f64.add (local.get $ic) (f64.const 1)))))
            (local.set $pSq (call $update (local.get $p) (local.get $v) (local.get $f)
              (f32.demote_f64 (local.get $keep)) (f32.demote_f64 (local.get $add))))
            (local.set $ic (f64.add (local.get $ic) (f64.const 1))))
          (else
            (if (f64.lt (local.get $dj) (local.get $di))
              (then
                (local.set $keep (f64.div (local.get $jc) (f64.add (local.get $jc) (f64.const 1))))
                (local.set $add (f64.div (f64.const 1) (f64.mul (local.get $norm) (f64.add (local.get $jc) (f64.const 1)))))
                (local.set $qSq (call $update (local.get $q) (local.get $v) (local.get $f)
                  (f32.demote_f64 (local.get $keep)) (f32.demote_f64 (local.get $add))))
                (local.set $jc (f64.add (local.get $jc) (f64.const 1)))))))
        (br $next)))
    (f64.store (local.get $extras) (local.get $pExtra))
    (f64.store offset=8 (local.get $extras) (local.get $qExtra)))
)
