"""Traces real architectures (random weights) into TorchScript for the opt-in
`real_models` test; the models (0.05-0.5 GB each) are not committed.

    python crates/fmt-torchscript/tests/make_real_models.py OUT_DIR [resnet18 resnet50 mobilenet vit bert gpt2]
    TORCHSCRIPT_MODELS=OUT_DIR cargo test -p fmt-torchscript --test real_models -- --ignored --nocapture

Needs torch, torchvision and transformers (tests/fixtures/requirements-torch.txt plus torchvision).
"""
import sys, shutil, warnings
from pathlib import Path
import numpy as np, torch
warnings.filterwarnings("ignore")
OUT = Path(sys.argv[1])

def save(name, m, inputs):
    d = OUT / name
    shutil.rmtree(d, ignore_errors=True); d.mkdir()
    m = m.eval()
    with torch.no_grad():
        t = torch.jit.trace(m, inputs, check_trace=False, strict=False)
        torch.jit.save(t, str(d / "model.pt"))
        l = torch.jit.load(str(d / "model.pt"))
        out = l(*inputs)
    if isinstance(out, dict): out = tuple(out.values())
    if isinstance(out, torch.Tensor): out = (out,)
    for k, x in enumerate(inputs): np.save(d / f"input_{k}.npy", x.numpy())
    for k, y in enumerate(out): np.save(d / f"output_{k}.npy", y.detach().numpy())
    print("wrote", name, [tuple(o.shape) for o in out])

OUT.mkdir(parents=True, exist_ok=True)
which = sys.argv[2:] or ["resnet18", "resnet50", "vit", "bert", "gpt2", "mobilenet"]
torch.manual_seed(0)
if "resnet18" in which:
    import torchvision
    save("resnet18", torchvision.models.resnet18(), (torch.randn(1, 3, 224, 224),))
if "resnet50" in which:
    import torchvision
    save("resnet50", torchvision.models.resnet50(), (torch.randn(1, 3, 224, 224),))
if "mobilenet" in which:
    import torchvision
    save("mobilenet", torchvision.models.mobilenet_v3_small(), (torch.randn(1, 3, 224, 224),))
if "vit" in which:
    import torchvision
    vit = torchvision.models.vit_b_16()
    torch.nn.init.normal_(vit.heads.head.weight, std=0.02)  # torchvision zero-initialises the head
    save("vit", vit, (torch.randn(1, 3, 224, 224),))
if "bert" in which:
    from transformers import BertConfig, BertModel
    cfg = BertConfig(torchscript=True)
    ids = torch.randint(0, cfg.vocab_size, (1, 16))
    save("bert", BertModel(cfg), (ids,))
if "gpt2" in which:
    from transformers import GPT2Config, GPT2Model
    cfg = GPT2Config(torchscript=True, use_cache=False)
    ids = torch.randint(0, cfg.vocab_size, (1, 16))
    save("gpt2", GPT2Model(cfg), (ids,))
