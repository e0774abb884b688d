"""Functional layer of the grouped GEMM family (mixture of experts; re-exported by ``baracuda.ops``).

    grouped_mm(a, b, offsets=None, *, offs=None, out=None, alpha=1.0, check_offsets=False)

    2-D a, 3-D b (the groups split the rows; MoE forward and dX):
        D[offsets[g] : offsets[g+1]] = alpha * A[offsets[g] : offsets[g+1]] @ B[g]    for g < G
    2-D a, 2-D b (the groups split the contraction dimension; the MoE weight gradient):
        D[g] = alpha * A[:, offsets[g] : offsets[g+1]] @ B[offsets[g] : offsets[g+1]]   for g < G

    a        rows: [M_total, K], the tokens, sorted by group (expert).
             contraction: [M, K_total], any strides: for dW[g] = X_g^T dY_g pass ``x.T`` (a view).
    b        rows: [G, K, N], one matrix per group, any strides: a weight stored [G, N, K] (the usual
             nn.Linear layout) is passed as ``w.transpose(1, 2)`` (torch) / ``w.transpose(0, 2, 1)``
             (numpy), nothing is copied.
             contraction: [K_total, N] (dY), any strides.
    D        rows: [M_total, N]; contraction: [G, M, N], D[g] = 0 for an empty group (an empty sum,
             as torch._grouped_mm gives).
    offsets  [G + 1], int32 or int64, cumulative: offsets[0] = 0, non-decreasing, offsets[G] = M_total
             (rows) or K_total (contraction). Empty groups are fine. With 2-D b, G comes from the
             offsets' length.
    offs=    the same boundaries in torch._grouped_mm's convention: G entries, the END of each
             group, without the leading 0 (torch's offs[-1] must be M_total / K_total here). Converted by
             prepending a 0 with the tensor's own framework, on its device (no host sync).
    out=     D, written in place (any strides the plan accepts); otherwise allocated with a's
             framework on a's device.
    alpha    a Python number.
    check_offsets=True: the run also reports whether the offsets were valid, and grouped_mm raises
             InvalidArgumentError (a ValueError) quoting them when they were not. On the CPU the
             reference checks them before computing anything. On CUDA the kernel checks them on the
             device (D is then left untouched) and grouped_mm SYNCHRONIZES the stream to read the
             flag: do not use it inside CUDA graphs or hot loops. With check_offsets=False, invalid
             offsets on CUDA leave D unwritten without an error.

Dtypes: a, b (and D) all bf16 or all f16; products accumulated in f32 (the CPU reference: f64),
one rounding to D. CUDA: the CUTLASS sm_90a kernel (Hopper). Rows: rows of A and D with unit
stride and B with unit stride along K or N, every other stride a multiple of 8 elements.
Contraction: A with unit stride along M (``x.T`` of a row-major x), B and D rows with unit stride,
M and N multiples of 8, other strides multiples of 8. Anything else raises
NotSupportedError saying which. Work is enqueued on the current torch / CuPy stream; the workspace
is allocated per call with the framework. A zero contraction length (K == 0, or K_total == 0) gives
D = 0 and an empty D gives nothing to do, without running a kernel (the offsets are then not read).

PyTorch: ``torch._grouped_mm(a, b, offs=offs)`` for 2-D a and 3-D b, and for 2-D a and 2-D b,
equals ``grouped_mm(a, b, offs=offs)``. JAX: ``jax.lax.ragged_dot(a, b, group_sizes)`` equals
``grouped_mm(a, b, offsets)`` with offsets = [0, cumsum(group_sizes)].
"""
from __future__ import annotations

from . import _C
from ._C import InvalidArgumentError, MisalignedError
from ._frameworks import adapter_of, operand_spec as _spec

__all__ = ["grouped_mm", "clear_grouped_gemm_plan_cache", "grouped_gemm_plan_cache_size"]

_CACHE_LIMIT = 4096
_MAX_ALIGNMENT = 16
_OFFSET_DTYPES = ("i32", "i64")
_plan_cache = {}


def clear_grouped_gemm_plan_cache():
    _plan_cache.clear()


def grouped_gemm_plan_cache_size():
    return len(_plan_cache)


def _tensor(x, what):
    a = adapter_of(x)
    if a is None or not isinstance(x, a.array_type):
        raise TypeError(f"baracuda.ops.grouped_mm: {what} must be a numpy / torch / cupy tensor, got {type(x).__name__}")
    return a


def _rank(what, spec, rank, dims):
    if len(spec[1]) != rank:
        raise InvalidArgumentError(f"[grouped_gemm] {what} must have rank {rank} {dims}, got shape {list(spec[1])}")


def _with_leading_zero(fw, offs):
    """torch._grouped_mm's offs (group ends) -> [0, *offs], with the tensor's framework on its device."""
    if fw.name == "torch":
        return fw.torch.cat((offs.new_zeros((1,)), offs))
    if fw.name == "cupy":
        with offs.device:
            return fw.cp.concatenate((fw.cp.zeros((1,), dtype=offs.dtype), offs))
    return fw.np.concatenate((fw.np.zeros((1,), dtype=offs.dtype), offs))


def _alignment(pairs):
    """The largest power of two (<= 16) dividing every non-empty tensor's data pointer."""
    al = _MAX_ALIGNMENT
    for ad, t in pairs:
        if ad.numel(t):
            p = ad.data_ptr(t)
            while p % al:
                al //= 2
    return al


def _plan(specs, split, odt, alpha, status, alignment, dev, stream):
    key = (specs, split, odt, alpha, status, alignment, dev)
    entry = _plan_cache.get(key)
    if entry is None:
        sa, sb, sd = specs
        plan = _C.GroupedGemmPlan(sa, sb, sd, offsets_dtype=odt, alpha=alpha, status=status, alignment=alignment,
                                  device=dev, stream=stream, split=split)
        entry = (plan, plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:  # many distinct shapes: start over rather than grow forever
            _plan_cache.clear()
        _plan_cache[key] = entry
    return entry


def _host_values(fw, t):
    if fw.name == "cupy":
        return [int(v) for v in t.get().tolist()]
    return [int(v) for v in t.tolist()]


def _offsets_problem(off, extent, split):
    """Why offsets are invalid (the CPU reference's rules), or None. extent: M_total (rows) or K_total."""
    if off[0] != 0:
        return f"must start at 0, got {off[0]}"
    for g in range(len(off) - 1):
        if off[g + 1] < off[g]:
            return f"decrease at group {g} ({off[g]} -> {off[g + 1]})"
    if off[-1] != extent:
        if split == "rows":
            return f"the group sizes sum to {off[-1]}, but A has M_total={extent} rows"
        return f"the group sizes sum to {off[-1]}, but A has K_total={extent} columns"
    return None


def _quote(off):
    return "[" + ", ".join(str(v) for v in off[:16]) + (", ...]" if len(off) > 16 else "]")


def grouped_mm(a, b, offsets=None, *, offs=None, out=None, alpha=1.0, check_offsets=False):
    """3-D b: D[offsets[g]:offsets[g+1]] = alpha * a[offsets[g]:offsets[g+1]] @ b[g];
    2-D b: D[g] = alpha * a[:, offsets[g]:offsets[g+1]] @ b[offsets[g]:offsets[g+1]] (see the module docstring).
    offsets: [G + 1] starting at 0; or offs=: [G] group ends (torch._grouped_mm's convention)."""
    fw = _tensor(a, "a")
    bw = _tensor(b, "b")
    sa, sb = _spec(fw, a), _spec(bw, b)
    _rank("a", sa, 2, "[M, K_total]" if len(sb[1]) == 2 else "[M_total, K]")
    if len(sb[1]) not in (2, 3):
        raise InvalidArgumentError(f"[grouped_gemm] b must have rank 3 [G, K, N] (groups split a's rows) or rank 2 "
                                   f"[K_total, N] (groups split the contraction), got shape {list(sb[1])}")
    split = "rows" if len(sb[1]) == 3 else "contraction"
    if (offsets is None) == (offs is None):
        raise TypeError("baracuda.ops.grouped_mm: give exactly one of offsets ([G + 1], starting at 0) and offs= "
                        "([G] group ends, torch._grouped_mm's convention)")
    given = offsets if offs is None else offs
    ow = _tensor(given, "offsets" if offs is None else "offs")
    so = _spec(ow, given)
    name = "offsets" if offs is None else "offs"
    if split == "rows":
        groups = sb[1][0]
        want = groups + 1 if offs is None else groups
        if len(so[1]) != 1 or so[1][0] != want:
            hint = ("; torch._grouped_mm's offs (group ends, no leading 0) go through offs=" if offs is None
                    else "; [G + 1] offsets starting at 0 go through offsets=")
            raise InvalidArgumentError(f"[grouped_gemm] {name} must have shape [{want}] (B {list(sb[1])} has "
                                       f"G={groups} groups), got shape {list(so[1])}{hint}")
    else:  # G is the offsets' length: at least one group
        least = 2 if offs is None else 1
        if len(so[1]) != 1 or so[1][0] < least:
            raise InvalidArgumentError(f"[grouped_gemm] {name} must have shape [{'G + 1' if offs is None else 'G'}] "
                                       f"with G >= 1 (a 2-D b: the groups split the contraction), got shape "
                                       f"{list(so[1])}")
        groups = so[1][0] - 1 if offs is None else so[1][0]
    if so[0] not in _OFFSET_DTYPES:
        raise InvalidArgumentError(f"[grouped_gemm] {name} must be int32 or int64, got {so[0]}")
    if offs is not None:
        offsets = _with_leading_zero(ow, offs)
    odt = so[0]
    if split == "rows":
        m_total, k, n = sa[1][0], sa[1][1], sb[1][2]
        d_shape, extent = (m_total, n), m_total
    else:
        m_total, k, n = sa[1][0], sa[1][1], sb[1][1]
        d_shape, extent = (groups, m_total, n), k
    dev = fw.device(a)
    if out is None:
        out = fw.empty(d_shape, sa[0], dev)
        dw = fw
    else:
        dw = _tensor(out, "out")
    sd = _spec(dw, out)
    if n == 0 or k == 0 or (split == "contraction" and m_total == 0):
        # Nothing to multiply: let the descriptor check the shapes, then fill (an empty sum is 0).
        _C.grouped_gemm_infer_signature(sa, sb, sd, offsets_dtype=odt, alpha=float(alpha), split=split)
        if m_total and n:
            out[...] = 0
        return out
    stream = fw.stream(dev)
    status = fw.empty((), "i32", dev) if check_offsets else None
    args = dict(a=fw.arg(a, sa[0]), b=bw.arg(b, sb[0]), group_offsets=ow.arg(offsets, odt), d=dw.arg(out, sd[0]))
    if status is not None:
        args["status"] = fw.arg(status, "i32")
    specs = (sa, sb, sd)
    alpha = float(alpha)
    plan, ws = _plan(specs, split, odt, alpha, status is not None, _MAX_ALIGNMENT, dev, stream)
    try:
        plan.run(stream, fw.empty_bytes(ws, dev) if ws else None, ws, **args)
    except MisalignedError:  # a view with an offset: select for the alignment the pointers have
        alignment = _alignment(((fw, a), (bw, b), (dw, out)))
        if alignment >= _MAX_ALIGNMENT:
            raise
        plan, ws = _plan(specs, split, odt, alpha, status is not None, alignment, dev, stream)
        plan.run(stream, fw.empty_bytes(ws, dev) if ws else None, ws, **args)
    if status is not None and int(_host_values(fw, status.reshape((1,)))[0]) != 0:  # synchronizes
        off = _host_values(ow, offsets)
        why = _offsets_problem(off, extent, split) or "rejected by the device"
        raise InvalidArgumentError(f"[grouped_gemm] group_offsets {_quote(off)}: {why} (reported by the device; "
                                   f"D was not written)")
    return out
