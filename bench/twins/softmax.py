"""PyTorch twins of baracuda_softmax_bench's coverage cases (bench/softmax_bench.cu, after the
headline rows, whose twins are softmax_torch_cases in bench/torch_compare.py).

Inputs are uniform in [-4, 4) as the C++ driver fills them. A backward twin differentiates the
forward expression with a random grad (torch.autograd.grad, retain_graph=True), so it times exactly
the kernels autograd runs for that expression. Every lambda binds its tensors through default
arguments, so a twin stays callable after the generator has moved on and deleted its names.
"""

from . import _common


def cases(torch, F):
    bf16, f32 = torch.bfloat16, torch.float32

    def rand(shape, dtype=bf16, lo=-4.0, hi=4.0):
        return _common.uniform(torch, shape, dtype, lo, hi)

    def backward(fn, x):
        return _common.backward(torch, fn, x)

    # bf16 32768 x 4096: log_softmax, masks, temperature.
    dims = "32768x4096"
    x = rand((32768, 4096))
    yield f"log_softmax_bf16_{dims}", lambda x=x: torch.log_softmax(x, -1)
    yield f"log_softmax_bwd_bf16_{dims}", backward(lambda t: torch.log_softmax(t, -1), x)

    # Additive bf16 mask [1, 4096], broadcast over the rows. torch adds in bf16 (one more pass, and
    # z rounded to bf16); baracuda adds in f32 inside the softmax. The backward of x + m passes the
    # grad through: torch runs the softmax backward only, as baracuda does.
    m_row = rand((1, 4096), lo=-2.0, hi=2.0)
    yield f"softmax_mask_add_bf16_{dims}", lambda x=x, m=m_row: torch.softmax(x + m, -1)
    yield f"softmax_mask_add_bwd_bf16_{dims}", backward(lambda t, m=m_row: torch.softmax(t + m, -1), x)
    m_full = rand((32768, 4096), lo=-2.0, hi=2.0)
    yield f"softmax_mask_add_full_bf16_{dims}", lambda x=x, m=m_full: torch.softmax(x + m, -1)
    del m_row, m_full

    # Boolean mask at the full shape, 3/4 kept. baracuda's mask is true where kept, masked_fill's is
    # true where filled: the inversion is a storage convention, done once here, not timed.
    drop = ~(torch.rand((32768, 4096), device="cuda") < 0.75)
    neg_inf = float("-inf")
    yield f"softmax_mask_bool_bf16_{dims}", lambda x=x, d=drop: torch.softmax(x.masked_fill(d, neg_inf), -1)
    yield (f"softmax_mask_bool_bwd_bf16_{dims}",
           backward(lambda t, d=drop: torch.softmax(t.masked_fill(d, neg_inf), -1), x))
    del drop

    # softmax(x / T), T = 2: torch pays the division as its own pass (and its backward).
    T = 2.0
    yield f"softmax_temp_bf16_{dims}", lambda x=x: torch.softmax(x / T, -1)
    yield f"softmax_temp_bwd_bf16_{dims}", backward(lambda t: torch.softmax(t / T, -1), x)
    del x

    # bf16 4096 x 32768: log_softmax along the rows, softmax along dim 0.
    dims = "4096x32768"
    x = rand((4096, 32768))
    yield f"log_softmax_bf16_{dims}", lambda x=x: torch.log_softmax(x, -1)
    yield f"log_softmax_bwd_bf16_{dims}", backward(lambda t: torch.log_softmax(t, -1), x)
    yield f"softmax_dim0_bf16_{dims}", lambda x=x: torch.softmax(x, 0)
    yield f"softmax_dim0_bwd_bf16_{dims}", backward(lambda t: torch.softmax(t, 0), x)
    del x

    # bf16 [64, 4096, 256], softmax over the middle dim.
    dims = "64x4096x256"
    x = rand((64, 4096, 256))
    yield f"softmax_dim1_bf16_{dims}", lambda x=x: torch.softmax(x, 1)
    yield f"softmax_dim1_bwd_bf16_{dims}", backward(lambda t: torch.softmax(t, 1), x)
    del x

    # f32 32768 x 4096.
    dims = "32768x4096"
    x = rand((32768, 4096), dtype=f32)
    yield f"softmax_f32_{dims}", lambda x=x: torch.softmax(x, -1)
    yield f"softmax_bwd_f32_{dims}", backward(lambda t: torch.softmax(t, -1), x)
    del x
