"""The forward's KV-cache keyword: the model's own name for it, whatever transformers is installed."""

from __future__ import annotations

import warnings

import torch
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM

from realrun.models import with_cache


class OldForward:
    def forward(self, input_ids=None, past_key_values=None, use_cache=None):  # transformers 5.17's shape
        raise NotImplementedError


class NewForward:
    def forward(self, input_ids=None, cache=None, use_cache=None):
        raise NotImplementedError


class Wrapper:
    """A stand-in that hands its inputs to a model (as tests' slowed or recording models do)."""

    def __call__(self, **inputs):
        raise NotImplementedError


def test_each_model_gets_the_name_its_forward_takes():
    marker = object()
    assert with_cache(OldForward(), marker) == {"past_key_values": marker}
    assert with_cache(NewForward(), marker) == {"cache": marker}


def test_a_real_model_runs_with_its_cache_and_no_deprecation_warning():
    config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16)
    model = LlamaForCausalLM(config).eval()
    cache = DynamicCache(config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # transformers 5.24 warns on `past_key_values`
        with torch.inference_mode():
            model(input_ids=torch.tensor([[1, 2, 3]]), **with_cache(model, cache), use_cache=True)
    assert cache.get_seq_length() == 3  # the forward wrote into the cache it was given
    # a wrapper without a forward of its own gets the installed transformers' name
    assert with_cache(Wrapper(), cache).keys() == with_cache(model, cache).keys()
