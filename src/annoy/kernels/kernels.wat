;; SIMD distance kernels over float32 vectors that live in one shared memory (the index storage).
;;
;; Pointers are byte offsets treated as unsigned 32-bit addresses: the memory is at most 4 GiB, and
;; i32 add/mul wrap modulo 2^32, so `nodeBase + id * nodeBytes` is right whenever the true address
;; fits in 32 bits even though it may exceed 2^31 (JS passes such numbers through ToInt32 unchanged
;; bit-wise). Loads need no alignment. Sums accumulate in float32 like Annoy's own kernels; four
;; independent v128 accumulators hide the add latency, then a 4-wide step and a scalar tail handle
;; `f` that is not a multiple of 16 or 4.
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

  ;; Σ (a[i] − b[i])²
  (func $l2 (export "l2") (param $a i32) (param $b i32) (param $f i32) (result f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $end16 i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $d v128) (local $s f32) (local $x f32)
    (local.set $end (i32.shl (local.get $f) (i32.const 2)))
    (local.set $end16 (i32.and (local.get $end) (i32.const -64)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done16
      (loop $next16
        (br_if $done16 (i32.ge_u (local.get $i) (local.get $end16)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                 (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $a) (local.get $i)))
                                 (v128.load offset=16 (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=32 (i32.add (local.get $a) (local.get $i)))
                                 (v128.load offset=32 (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=48 (i32.add (local.get $a) (local.get $i)))
                                 (v128.load offset=48 (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $next16)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                 (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $d) (local.get $d))))
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
        (local.set $x (f32.sub (f32.load (i32.add (local.get $a) (local.get $i)))
                               (f32.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $s (f32.add (local.get $s) (f32.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.get $s))

  ;; Σ |a[i] − b[i]|
  (func $l1 (export "l1") (param $a i32) (param $b i32) (param $f i32) (result f32)
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
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                (v128.load (i32.add (local.get $b) (local.get $i)))))))
        (local.set $acc1 (f32x4.add (local.get $acc1)
          (f32x4.abs (f32x4.sub (v128.load offset=16 (i32.add (local.get $a) (local.get $i)))
                                (v128.load offset=16 (i32.add (local.get $b) (local.get $i)))))))
        (local.set $acc2 (f32x4.add (local.get $acc2)
          (f32x4.abs (f32x4.sub (v128.load offset=32 (i32.add (local.get $a) (local.get $i)))
                                (v128.load offset=32 (i32.add (local.get $b) (local.get $i)))))))
        (local.set $acc3 (f32x4.add (local.get $acc3)
          (f32x4.abs (f32x4.sub (v128.load offset=48 (i32.add (local.get $a) (local.get $i)))
                                (v128.load offset=48 (i32.add (local.get $b) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $next16)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $acc0 (f32x4.add (local.get $acc0)
          (f32x4.abs (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i)))
                                (v128.load (i32.add (local.get $b) (local.get $i)))))))
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
          (f32.abs (f32.sub (f32.load (i32.add (local.get $a) (local.get $i)))
                            (f32.load (i32.add (local.get $b) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next1)))
    (local.get $s))

  ;; out[k] = dot(q, vector of ids[k]) for k < count; the vector of id starts at base + id·nodeBytes + vOffset.
  (func (export "batch_dot")
    (param $q i32) (param $ids i32) (param $count i32) (param $base i32) (param $nodeBytes i32)
    (param $vOffset i32) (param $f i32) (param $out i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $base (i32.add (local.get $base) (local.get $vOffset)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end)))
        (f64.store (local.get $out) (f64.promote_f32 (call $dot (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f))))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $next))))

  (func (export "batch_l2")
    (param $q i32) (param $ids i32) (param $count i32) (param $base i32) (param $nodeBytes i32)
    (param $vOffset i32) (param $f i32) (param $out i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $base (i32.add (local.get $base) (local.get $vOffset)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end)))
        (f64.store (local.get $out) (f64.promote_f32 (call $l2 (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f))))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $next))))

  (func (export "batch_l1")
    (param $q i32) (param $ids i32) (param $count i32) (param $base i32) (param $nodeBytes i32)
    (param $vOffset i32) (param $f i32) (param $out i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $base (i32.add (local.get $base) (local.get $vOffset)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ids) (local.get $end)))
        (f64.store (local.get $out) (f64.promote_f32 (call $l1 (local.get $q)
          (i32.add (local.get $base) (i32.mul (i32.load (local.get $ids)) (local.get $nodeBytes)))
          (local.get $f))))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $next))))
)
