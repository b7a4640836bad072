"""The architectures and layers of `make coverage` (tools/coverage.py).

Each entry of `MODELS` is a `Case`: a name, a category and a builder that
returns `(model in eval mode, example inputs)` at batch 1. transformers models
are built from small configs with random weights (nothing is downloaded); the
plain-torch entries are the layers and small networks a user writes by hand.
Every builder seeds torch itself, so a case builds the same weights and inputs
in every process.

    >>> model, inputs = MODELS["BertModel"].build()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

CATEGORIES = (
    "text-encoder", "decoder", "encoder-decoder", "vision-cnn", "vision-transformer", "audio", "multimodal", "layer",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One row of the sweep. `batch_dim` is the dimension `dynamic_batch=True`
    makes symbolic (None: the case has no batch dimension in front)."""

    name: str
    category: str
    build: Callable = field(repr=False)
    batch_dim: int | None = 0
    framework: str = "torch"


MODELS: dict[str, Case] = {}


def _add(name: str, category: str, build: Callable, batch_dim: int | None = 0) -> None:
    assert category in CATEGORIES and name not in MODELS, name
    MODELS[name] = Case(name, category, build, batch_dim)


# --- example inputs ---


def ids(batch: int = 1, length: int = 12, vocab: int = 99):
    import torch

    g = torch.Generator().manual_seed(1)
    return torch.randint(3, vocab, (batch, length), generator=g)


def image(batch: int = 1, channels: int = 3, size: int = 32):
    import torch

    g = torch.Generator().manual_seed(2)
    return torch.randn(batch, channels, size, size, generator=g)


def randn(*shape):
    import torch

    g = torch.Generator().manual_seed(3)
    return torch.randn(*shape, generator=g)


# --- transformers models ---


def _randomize_norms(model):
    """transformers initialise batch-norm statistics to identity; random ones exercise them."""
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _hf_model(cls_name: str, config: dict):
    import torch
    import transformers

    torch.manual_seed(0)
    cls = getattr(transformers, cls_name, None)
    if cls is None:  # classes not exported at the top level
        import importlib

        module, _, attr = cls_name.rpartition(".")
        cls = getattr(importlib.import_module(module), attr)
    cfg = cls.config_class(**config)
    return _randomize_norms(cls(cfg)).eval()


def hf(cls_name: str, make_inputs: Callable, **config) -> Callable:
    """A builder for a transformers model class called positionally on `make_inputs()`."""

    def build():
        return _hf_model(cls_name, config), (make_inputs(),)

    return build


def hf_kw(cls_name: str, make_inputs: Callable[[], dict], **config) -> Callable:
    """A builder for a model called with keyword inputs (encoder-decoders, multimodal):
    wrapped in a module taking them positionally, as a user exporting it would."""

    def build():
        import torch

        inner = _hf_model(cls_name, config)
        kwargs = make_inputs()
        names = list(kwargs)

        class Positional(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = inner

            def forward(self, *args):
                return self.model(**dict(zip(names, args)))

        return Positional().eval(), tuple(kwargs.values())

    return build


TEXT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64)  # fmt: skip
DECODER = dict(TEXT, use_cache=False)
ENC_DEC = dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
               decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
               use_cache=False, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)  # fmt: skip
VISION = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=37)  # fmt: skip


def seq2seq(batch: int = 1):
    return {"input_ids": ids(batch, 12), "decoder_input_ids": ids(batch, 7)}


for _name, _cfg in {
    "BertModel": TEXT,
    "RobertaModel": dict(TEXT, pad_token_id=1),
    "XLMRobertaModel": dict(TEXT, pad_token_id=1),
    "DistilBertModel": dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64),
    "AlbertModel": dict(TEXT, embedding_size=16),
    "ElectraModel": dict(TEXT, embedding_size=16),
    "DebertaModel": TEXT,
    "DebertaV2Model": TEXT,
    "MPNetModel": TEXT,
    "ConvBertModel": dict(TEXT, embedding_size=32),
    "SqueezeBertModel": dict(TEXT, embedding_size=32, intermediate_size=64),
    "ErnieModel": TEXT,
    "MobileBertModel": dict(TEXT, hidden_size=64, embedding_size=32, intra_bottleneck_size=32, true_hidden_size=32),
    "ModernBertModel": dict(TEXT, global_attn_every_n_layers=2, local_attention=8, pad_token_id=0, bos_token_id=1,
                            eos_token_id=2, cls_token_id=1, sep_token_id=2),
    "RoFormerModel": dict(TEXT, embedding_size=32),
    "RemBertModel": dict(TEXT, input_embedding_size=16, output_embedding_size=16),
    "FunnelModel": dict(vocab_size=99, block_sizes=[1, 1], d_model=32, n_head=4, d_head=8, d_inner=37),
    "LayoutLMModel": TEXT,
    "XLNetModel": dict(vocab_size=99, d_model=32, n_layer=2, n_head=4, d_inner=37, use_mems_eval=False),
}.items():
    _add(_name, "text-encoder", hf(_name, ids, **_cfg))

for _name, _cfg in {
    "GPT2Model": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, use_cache=False),
    "GPTNeoModel": dict(vocab_size=99, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=37,
                        attention_types=[[["global", "local"], 1]], window_size=8, max_position_embeddings=64,
                        use_cache=False),
    "GPTJModel": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64, use_cache=False),
    "CodeGenModel": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64, n_ctx=64,
                         use_cache=False),
    "GPTBigCodeModel": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, use_cache=False),
    "OPTModel": dict(DECODER, ffn_dim=37, word_embed_proj_dim=32),
    "BloomModel": dict(vocab_size=99, hidden_size=32, n_layer=2, n_head=4, use_cache=False),
    "FalconModel": DECODER,
    "LlamaModel": dict(DECODER, num_key_value_heads=2),
    "MistralModel": dict(DECODER, num_key_value_heads=2),
    "Qwen2Model": dict(DECODER, num_key_value_heads=2),
    "Qwen3Model": dict(DECODER, num_key_value_heads=2, head_dim=8),
    "PhiModel": DECODER,
    "Phi3Model": dict(DECODER, pad_token_id=0),
    "GemmaModel": dict(DECODER, num_key_value_heads=2, head_dim=8),
    "Gemma2Model": dict(DECODER, num_key_value_heads=2, head_dim=8, sliding_window=8),
    "StableLmModel": dict(DECODER, num_key_value_heads=4),
    "GPTNeoXModel": DECODER,
    "OlmoModel": DECODER,
    "GraniteModel": DECODER,
    "CohereModel": DECODER,
    "Starcoder2Model": dict(DECODER, num_key_value_heads=2),
    "MptModel": dict(vocab_size=99, d_model=32, n_heads=4, n_layers=2, expansion_ratio=2, max_seq_len=64,
                     use_cache=False),
    "BioGptModel": DECODER,
    "XGLMModel": dict(vocab_size=99, d_model=32, num_layers=2, attention_heads=4, ffn_dim=37,
                      max_position_embeddings=64, use_cache=False),
    "CTRLModel": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, dff=37, n_positions=64, use_cache=False),
}.items():
    _add(_name, "decoder", hf(_name, ids, **_cfg))

_T5 = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, use_cache=False,
           decoder_start_token_id=0)  # fmt: skip
for _name, _cfg in {
    "T5Model": _T5,
    "MT5Model": _T5,
    "BartModel": ENC_DEC,
    "MBartModel": ENC_DEC,
    "PegasusModel": ENC_DEC,
    "MarianModel": dict(ENC_DEC, decoder_vocab_size=99),
    "BlenderbotModel": ENC_DEC,
    "PLBartModel": ENC_DEC,
    "LEDModel": dict(ENC_DEC, attention_window=[4, 4], max_encoder_position_embeddings=64,
                     max_decoder_position_embeddings=64),
    "ProphetNetModel": dict(vocab_size=99, hidden_size=32, encoder_ffn_dim=37, decoder_ffn_dim=37,
                            num_encoder_layers=2, num_decoder_layers=2, num_encoder_attention_heads=4,
                            num_decoder_attention_heads=4, max_position_embeddings=64, ngram=2, use_cache=False),
}.items():
    _add(_name, "encoder-decoder", hf_kw(_name, seq2seq, **_cfg))

for _name, _cfg in {
    "ResNetModel": dict(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic"),
    "ResNetModel-bottleneck": dict(embedding_size=16, hidden_sizes=[32, 64], depths=[1, 1], layer_type="bottleneck"),
    "MobileNetV1Model": dict(image_size=32, depth_multiplier=0.25),
    "MobileNetV2Model": dict(image_size=32, depth_multiplier=0.35),
    "ConvNextModel": dict(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2),
    "ConvNextV2Model": dict(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2),
    "EfficientNetModel": dict(image_size=32, width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320),
    "RegNetModel": dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=8),
    "PoolFormerModel": dict(num_encoder_blocks=2, depths=[1, 1], hidden_sizes=[16, 32], patch_sizes=[7, 3],
                            strides=[4, 2], padding=[2, 1], pool_size=3),
    "BitModel": dict(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], num_groups=4),
    "MobileViTModel": dict(image_size=32, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32],
                           num_attention_heads=2),
}.items():
    _add(_name.replace("ResNetModel-", "ResNet-"), "vision-cnn",
         hf(_name.split("-")[0], image, **_cfg))  # fmt: skip

for _name, _cfg in {
    "ViTModel": VISION,
    "DeiTModel": VISION,
    "BeitModel": dict(VISION, vocab_size=99, use_relative_position_bias=True),
    "Data2VecVisionModel": dict(VISION, use_relative_position_bias=True),
    "Dinov2Model": VISION,
    "ViTMSNModel": VISION,
    "YolosModel": dict(VISION, image_size=[32, 32], num_detection_tokens=4),
    "SwinModel": dict(image_size=32, patch_size=2, embed_dim=16, depths=[1, 1], num_heads=[2, 4], window_size=4),
    "Swinv2Model": dict(image_size=32, patch_size=2, embed_dim=16, depths=[1, 1], num_heads=[2, 4], window_size=4),
    "FocalNetModel": dict(image_size=32, patch_size=2, embed_dim=16, depths=[1, 1], hidden_sizes=[16, 32]),
    "PvtModel": dict(image_size=32, num_encoder_blocks=2, depths=[1, 1], sequence_reduction_ratios=[2, 1],
                     hidden_sizes=[16, 32], patch_sizes=[4, 2], strides=[4, 2], num_attention_heads=[1, 2],
                     mlp_ratios=[2, 2]),
    "SegformerModel": dict(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
                           patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2]),
    # depth[i] > i: CvtStage indexes its drop-path rates by stage
    "CvtModel": dict(embed_dim=[16, 24, 32], num_heads=[1, 2, 2], depth=[1, 2, 3], patch_sizes=[7, 3, 3],
                     patch_stride=[4, 2, 2], patch_padding=[2, 1, 1], stride_kv=[2, 2, 2],
                     cls_token=[False, False, True], mlp_ratio=[2.0, 2.0, 2.0], qkv_bias=[True, True, True],
                     drop_rate=[0.0, 0.0, 0.0], attention_drop_rate=[0.0, 0.0, 0.0], drop_path_rate=[0.0, 0.0, 0.0],
                     padding_q=[1, 1, 1], padding_kv=[1, 1, 1], kernel_qkv=[3, 3, 3], stride_q=[1, 1, 1]),
    "LevitModel": dict(image_size=32, hidden_sizes=[16, 32, 48], num_attention_heads=[1, 2, 3], depths=[1, 1, 1],
                       key_dim=[8, 8, 8], drop_path_rate=0, mlp_ratio=[2, 2, 2], attention_ratio=[2, 2, 2]),
}.items():
    _add(_name, "vision-transformer", hf(_name, image, **_cfg))


def wave(batch: int = 1):
    return randn(batch, 1600)


_WAV2VEC = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embeddings=16,
                num_conv_pos_embedding_groups=2, vocab_size=32)  # fmt: skip
for _name, _cfg in {
    "Wav2Vec2Model": _WAV2VEC,
    "HubertModel": _WAV2VEC,
    "WavLMModel": dict(_WAV2VEC, num_buckets=16, max_bucket_distance=40),
    "Data2VecAudioModel": dict(_WAV2VEC, num_conv_pos_embeddings=5, conv_pos_kernel_size=5),
    "SEWModel": dict(_WAV2VEC, squeeze_factor=2),
    "UniSpeechModel": _WAV2VEC,
}.items():
    _add(_name, "audio", hf(_name, wave, **_cfg))

_WHISPER = dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=16,
                max_source_positions=32, max_target_positions=32, use_cache=False, pad_token_id=1,
                decoder_start_token_id=2)  # fmt: skip
_add("WhisperEncoder", "audio",
     hf("transformers.models.whisper.modeling_whisper.WhisperEncoder", lambda b=1: randn(b, 16, 64), **_WHISPER))
_add("WhisperModel", "audio", hf_kw("WhisperModel", lambda b=1: {
    "input_features": randn(b, 16, 64), "decoder_input_ids": ids(b, 5)}, **_WHISPER))  # fmt: skip
_add("ASTModel", "audio", hf("ASTModel", lambda b=1: randn(b, 64, 16), hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=37, patch_size=8, max_length=64,
                             num_mel_bins=16, frequency_stride=4, time_stride=4))  # fmt: skip
_add("Speech2TextModel", "audio", hf_kw("Speech2TextModel", lambda b=1: {
    "input_features": randn(b, 32, 16), "decoder_input_ids": ids(b, 5)}, **dict(
        ENC_DEC, input_feat_per_channel=16, input_channels=1, conv_channels=16, num_conv_layers=2,
        conv_kernel_sizes=[5, 5], max_source_positions=64, max_target_positions=64)))  # fmt: skip
_add("EncodecModel", "audio", hf("EncodecModel", lambda b=1: randn(b, 1, 800), num_filters=4, hidden_size=16,
                                 upsampling_ratios=[4, 2], codebook_size=32, codebook_dim=16, num_lstm_layers=1,
                                 target_bandwidths=[24.0], sampling_rate=8000))  # fmt: skip

_CLIP_TEXT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=64)  # fmt: skip
_CLIP_VISION = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=37)  # fmt: skip
for _name, _cfg, _inputs in (
    ("CLIPTextModel", _CLIP_TEXT, ids),
    ("CLIPVisionModel", _CLIP_VISION, image),
    ("SiglipTextModel", _CLIP_TEXT, ids),
    ("SiglipVisionModel", _CLIP_VISION, image),
    ("BlipVisionModel", _CLIP_VISION, image),
    ("OwlViTTextModel", _CLIP_TEXT, ids),
    ("AlignTextModel", TEXT, ids),
    ("ChineseCLIPTextModel", TEXT, ids),
    ("GroupViTVisionModel", dict(_CLIP_VISION, depths=[1, 1], num_group_tokens=[4, 0], num_output_groups=[4, 4]),
     image),
):
    _add(_name, "multimodal", hf(_name, _inputs, **_cfg))
_add("CLIPModel", "multimodal", hf_kw("CLIPModel", lambda b=1: {"input_ids": ids(b), "pixel_values": image(b)},
                                      text_config=_CLIP_TEXT, vision_config=_CLIP_VISION, projection_dim=16))
_add("ViltModel", "multimodal", hf_kw("ViltModel", lambda b=1: {"input_ids": ids(b, 8), "pixel_values": image(b)},
                                      **dict(TEXT, image_size=32, patch_size=8, max_image_length=-1)))



# --- more families: video, state-space and RNN-style decoders, long-input encoders, dense prediction ---


def video(batch: int = 1):
    return randn(batch, 4, 3, 32, 32)  # [B, frames, C, H, W]


def padded(batch: int = 1, length: int = 12):
    """ids with an attention mask that pads the first sample's front (left padding)."""
    mask = ids(batch, length) * 0 + 1
    mask[0, :3] = 0
    return {"input_ids": ids(batch, length), "attention_mask": mask}


_SEQ2SEQ_T5 = dict(_T5, d_kv=8)
for _name, _category, _build in (
    ("MegatronBertModel", "text-encoder", hf("MegatronBertModel", ids, **TEXT)),
    ("BigBirdModel", "text-encoder", hf("BigBirdModel", ids, **dict(TEXT, attention_type="original_full"))),
    ("CanineModel", "text-encoder", hf("CanineModel", lambda b=1: ids(b, 16), hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, intermediate_size=37, downsampling_rate=4,
                                       num_hash_buckets=64, local_transformer_stride=4)),
    ("IBertModel", "text-encoder", hf("IBertModel", ids, **TEXT)),
    ("MambaModel", "decoder", hf("MambaModel", ids, vocab_size=99, hidden_size=32, num_hidden_layers=2, state_size=8,
                                 use_cache=False)),
    ("RwkvModel", "decoder", hf("RwkvModel", ids, vocab_size=99, hidden_size=32, num_hidden_layers=2,
                                attention_hidden_size=32, intermediate_size=37, use_cache=False)),
    ("PersimmonModel", "decoder", hf("PersimmonModel", ids, **DECODER)),
    ("Gemma3TextModel", "decoder", hf("Gemma3TextModel", ids, **dict(DECODER, num_key_value_heads=2, head_dim=8,
                                                                      sliding_window=4))),
    # as a user calls a decoder: the config's default use_cache=True and a padding mask
    ("LlamaModel-cache-mask", "decoder", hf_kw("LlamaModel", padded, **dict(TEXT, num_key_value_heads=2))),
    ("GPT2Model-cache-mask", "decoder", hf_kw("GPT2Model", padded, vocab_size=99, n_embd=32, n_layer=2, n_head=4,
                                              n_positions=64)),
    ("M2M100Model", "encoder-decoder", hf_kw("M2M100Model", seq2seq, **ENC_DEC)),
    ("UMT5Model", "encoder-decoder", hf_kw("UMT5Model", seq2seq, **_SEQ2SEQ_T5)),
    ("LongT5Model", "encoder-decoder", hf_kw("LongT5Model", lambda b=1: {**padded(b), "decoder_input_ids": ids(b, 5)},
                                             **dict(_SEQ2SEQ_T5, local_radius=4))),
    ("PegasusXModel", "encoder-decoder", hf_kw("PegasusXModel", lambda b=1: seq2seq(b),
                                               **dict(ENC_DEC, block_size=4, num_global_tokens=4))),
    ("FSMTModel", "encoder-decoder", hf_kw("FSMTModel", seq2seq, langs=["en", "de"], src_vocab_size=99,
                                           tgt_vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2,
                                           encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=37,
                                           decoder_ffn_dim=37, max_position_embeddings=64, use_cache=False,
                                           pad_token_id=1, decoder_start_token_id=2)),
    ("SwiftFormerModel", "vision-cnn", hf("SwiftFormerModel", image, depths=[1, 1, 1, 1], embed_dims=[16, 16, 32, 32])),
    ("VideoMAEModel", "vision-transformer", hf("VideoMAEModel", video, **dict(VISION, num_frames=4, tubelet_size=2))),
    ("TimesformerModel", "vision-transformer", hf("TimesformerModel", video, **dict(VISION, num_frames=4))),
    ("VivitModel", "vision-transformer", hf("VivitModel", video, **dict(VISION, num_frames=4, tubelet_size=[2, 8, 8]))),
    ("DPTModel", "vision-transformer", hf("DPTModel", image, **dict(VISION, num_hidden_layers=4,
                                                                    backbone_out_indices=[0, 1, 2, 3],
                                                                    neck_hidden_sizes=[8, 8, 16, 16],
                                                                    fusion_hidden_size=16))),
    ("GLPNModel", "vision-transformer", hf("GLPNModel", image, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                                           hidden_sizes=[16, 32], patch_sizes=[7, 3], strides=[4, 2],
                                           num_attention_heads=[1, 2], mlp_ratios=[2, 2])),
    ("PvtV2Model", "vision-transformer", hf("PvtV2Model", image, num_encoder_blocks=2, depths=[1, 1],
                                            sr_ratios=[2, 1], hidden_sizes=[16, 32], patch_sizes=[7, 3],
                                            strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2])),
    ("VitDetModel", "vision-transformer", hf("VitDetModel", image, **dict(VISION, window_block_indices=[0],
                                                                          window_size=2,
                                                                          use_relative_position_embeddings=True))),
    ("Wav2Vec2ConformerModel", "audio", hf("Wav2Vec2ConformerModel", wave, **dict(
        _WAV2VEC, conv_depthwise_kernel_size=3, position_embeddings_type="rotary"))),
    ("UniSpeechSatModel", "audio", hf("UniSpeechSatModel", wave, **_WAV2VEC)),
    ("SEWDModel", "audio", hf("SEWDModel", wave, **dict(_WAV2VEC, squeeze_factor=2, position_buckets=16,
                                                        max_relative_positions=16))),
    ("ClapAudioModel", "audio", hf("ClapAudioModel", lambda b=1: randn(b, 1, 64, 16), spec_size=64, num_mel_bins=16,
                                   patch_embeds_hidden_size=16, hidden_size=32, depths=[1, 1],
                                   num_attention_heads=[2, 4], window_size=4, enable_fusion=False,
                                   patch_stride=[4, 4])),
    ("AltCLIPTextModel", "multimodal", hf("AltCLIPTextModel", ids, **dict(TEXT, project_dim=16))),
    ("Owlv2VisionModel", "multimodal", hf("Owlv2VisionModel", image, **VISION)),
    ("FlavaImageModel", "multimodal", hf("FlavaImageModel", image, **VISION)),
):  # fmt: skip
    _add(_name, _category, _build)


# --- plain torch: layers and hand-written networks ---


def _wrappers():
    """Small modules a user writes around a layer whose call is not `f(x) -> tensor`."""
    import types

    import torch
    from torch import nn

    class SelfAttention(nn.Module):
        def __init__(self, mha):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

    class MemoryDecoder(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return self.layer(x, torch.flip(x, [1]), tgt_mask=mask, tgt_is_causal=True)

    class Both(nn.Module):
        """An RNN's output and final state(s), as a user returns them."""

        def __init__(self, rnn, with_state: bool = False):
            super().__init__()
            self.rnn = rnn
            self.with_state = with_state

        def forward(self, x):
            if not self.with_state:
                return self.rnn(x)
            layers = self.rnn.num_layers * (2 if self.rnn.bidirectional else 1)
            batch = x.shape[0] if self.rnn.batch_first else x.shape[1]
            out_size = getattr(self.rnn, "proj_size", 0) or self.rnn.hidden_size
            h0 = torch.tanh(torch.arange(layers * batch * out_size, dtype=x.dtype)).reshape(layers, batch, out_size)
            if isinstance(self.rnn, nn.LSTM):
                c0 = torch.cos(torch.arange(layers * batch * self.rnn.hidden_size, dtype=x.dtype))
                return self.rnn(x, (h0, c0.reshape(layers, batch, self.rnn.hidden_size)))
            return self.rnn(x, h0)

    class IdsOf(nn.Module):
        def __init__(self, emb):
            super().__init__()
            self.emb = emb

        def forward(self, x):
            return self.emb((x.abs() * 7).long() % 20)

    class TwoOf(nn.Module):
        def __init__(self, op):
            super().__init__()
            self.op = op

        def forward(self, x):
            return self.op(x, torch.tanh(x))

    class UNet(nn.Module):
        """A two-level UNet: strided convs down, transposed conv and upsampling up, skip concatenations."""

        def __init__(self):
            super().__init__()
            self.down1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.down2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
            self.mid = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
            self.up1 = nn.ConvTranspose2d(16, 16, 2, stride=2)
            self.dec1 = nn.Sequential(nn.Conv2d(32, 8, 3, padding=1), nn.ReLU())
            self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.dec2 = nn.Conv2d(16, 2, 1)

        def forward(self, x):
            a = self.down1(x)
            b = self.down2(a)
            c = self.up1(self.mid(b))
            d = self.dec1(torch.cat([c, b], dim=1))
            return self.dec2(torch.cat([self.up2(d), a], dim=1))

    class DCGANGenerator(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.ConvTranspose2d(16, 32, 4, 1, 0, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                nn.ConvTranspose2d(16, 3, 4, 2, 1, bias=False), nn.Tanh(),
            )  # fmt: skip

        def forward(self, z):
            return self.net(z)

    class VGGish(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            )  # fmt: skip
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    class TextCNN(nn.Module):
        """Kim (2014): embedding, parallel 1-D convolutions, max over time."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.convs = nn.ModuleList(nn.Conv1d(16, 8, k) for k in (2, 3, 4))
            self.fc = nn.Linear(24, 3)

        def forward(self, x):
            e = self.emb((x.abs() * 11).long() % 50).transpose(1, 2)
            return self.fc(torch.cat([torch.relu(c(e)).amax(dim=2) for c in self.convs], dim=1))

    class LSTMTagger(nn.Module):
        """Embedding, a bidirectional LSTM, a linear tag head and log-softmax."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.lstm = nn.LSTM(16, 12, batch_first=True, bidirectional=True)
            self.head = nn.Linear(24, 5)

        def forward(self, x):
            out, _ = self.lstm(self.emb((x.abs() * 11).long() % 50))
            return torch.log_softmax(self.head(out), dim=-1)

    return types.SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})


# name -> (module factory taking (nn, wrappers), input shape, batch dim)
LAYERS: dict[str, tuple] = {
    "nn.MultiheadAttention": (lambda nn, w: w.SelfAttention(nn.MultiheadAttention(16, 4, batch_first=True)),
                              (1, 6, 16), 0),
    "nn.TransformerEncoderLayer": (lambda nn, w: nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0,
                                                                            batch_first=True), (1, 6, 16), 0),
    "nn.TransformerDecoderLayer": (lambda nn, w: w.MemoryDecoder(nn.TransformerDecoderLayer(
        16, 4, 32, dropout=0.0, batch_first=True)), (1, 6, 16), 0),
    "nn.TransformerEncoder-norm_first": (lambda nn, w: nn.TransformerEncoder(nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, batch_first=True, norm_first=True), 2, enable_nested_tensor=False), (1, 6, 16), 0),
    "nn.LSTM": (lambda nn, w: w.Both(nn.LSTM(8, 16)), (7, 1, 8), 1),
    "nn.LSTM-2layer-bi-batch_first": (lambda nn, w: w.Both(nn.LSTM(8, 16, num_layers=2, bidirectional=True,
                                                                   batch_first=True)), (1, 7, 8), 0),
    "nn.LSTM-h0c0-proj": (lambda nn, w: w.Both(nn.LSTM(8, 16, proj_size=6), with_state=True), (7, 1, 8), 1),
    "nn.GRU": (lambda nn, w: w.Both(nn.GRU(8, 16, batch_first=True)), (1, 7, 8), 0),
    "nn.GRU-2layer-bi-h0": (lambda nn, w: w.Both(nn.GRU(8, 16, num_layers=2, bidirectional=True), with_state=True),
                            (7, 1, 8), 1),
    "nn.RNN-tanh": (lambda nn, w: w.Both(nn.RNN(8, 16, batch_first=True)), (1, 7, 8), 0),
    "nn.RNN-relu-2layer": (lambda nn, w: w.Both(nn.RNN(8, 16, num_layers=2, nonlinearity="relu")), (7, 1, 8), 1),
    "nn.Conv1d": (lambda nn, w: nn.Conv1d(4, 8, 3, stride=2, padding=1), (1, 4, 20), 0),
    "nn.Conv1d-dilated-groups": (lambda nn, w: nn.Conv1d(4, 8, 3, dilation=2, groups=2), (1, 4, 20), 0),
    "nn.Conv2d-padding-same": (lambda nn, w: nn.Conv2d(3, 8, 3, padding="same"), (1, 3, 16, 16), 0),
    "nn.Conv3d": (lambda nn, w: nn.Conv3d(2, 4, 3, padding=1), (1, 2, 6, 6, 6), 0),
    "nn.ConvTranspose1d": (lambda nn, w: nn.ConvTranspose1d(4, 8, 4, stride=2, padding=1), (1, 4, 10), 0),
    "nn.ConvTranspose2d": (lambda nn, w: nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1),
                           (1, 4, 8, 8), 0),
    "nn.GroupNorm": (lambda nn, w: nn.GroupNorm(2, 8), (1, 8, 6, 6), 0),
    "nn.InstanceNorm2d": (lambda nn, w: nn.InstanceNorm2d(4, affine=True), (1, 4, 6, 6), 0),
    "nn.InstanceNorm1d": (lambda nn, w: nn.InstanceNorm1d(4), (1, 4, 10), 0),
    "nn.LayerNorm-2d": (lambda nn, w: nn.LayerNorm([6, 6]), (1, 4, 6, 6), 0),
    "nn.Upsample-nearest": (lambda nn, w: nn.Upsample(scale_factor=2, mode="nearest"), (1, 3, 5, 5), 0),
    "nn.Upsample-bilinear": (lambda nn, w: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 3, 5, 5), 0),
    "nn.Upsample-bilinear-align": (lambda nn, w: nn.Upsample(size=(9, 7), mode="bilinear", align_corners=True),
                                   (1, 3, 5, 5), 0),
    "nn.Upsample-bicubic": (lambda nn, w: nn.Upsample(scale_factor=2, mode="bicubic"), (1, 3, 5, 5), 0),
    "nn.AvgPool2d-ceil": (lambda nn, w: nn.AvgPool2d(3, stride=2, ceil_mode=True), (1, 3, 8, 8), 0),
    "nn.AvgPool2d-ceil-big-kernel": (lambda nn, w: nn.AvgPool2d(7, ceil_mode=True), (1, 3, 4, 4), 0),
    "nn.MaxPool2d-ceil": (lambda nn, w: nn.MaxPool2d(3, stride=2, ceil_mode=True), (1, 3, 8, 8), 0),
    "nn.MaxPool1d": (lambda nn, w: nn.MaxPool1d(3, stride=2), (1, 4, 15), 0),
    "nn.AvgPool1d": (lambda nn, w: nn.AvgPool1d(3, stride=2, padding=1), (1, 4, 15), 0),
    "nn.AdaptiveAvgPool1d": (lambda nn, w: nn.AdaptiveAvgPool1d(5), (1, 4, 15), 0),
    "nn.AdaptiveMaxPool2d": (lambda nn, w: nn.AdaptiveMaxPool2d((2, 3)), (1, 4, 8, 9), 0),
    "nn.PixelShuffle": (lambda nn, w: nn.PixelShuffle(2), (1, 8, 4, 4), 0),
    "nn.PixelUnshuffle": (lambda nn, w: nn.PixelUnshuffle(2), (1, 2, 8, 8), 0),
    "nn.Embedding": (lambda nn, w: w.IdsOf(nn.Embedding(20, 8)), (1, 6), 0),
    "nn.EmbeddingBag": (lambda nn, w: w.IdsOf(nn.EmbeddingBag(20, 8, mode="mean")), (2, 6), 0),
    "nn.ReflectionPad2d": (lambda nn, w: nn.ReflectionPad2d(2), (1, 3, 6, 6), 0),
    "nn.ReplicationPad2d": (lambda nn, w: nn.ReplicationPad2d((1, 2, 0, 1)), (1, 3, 6, 6), 0),
    "nn.PReLU": (lambda nn, w: nn.PReLU(4), (1, 4, 5, 5), 0),
    "nn.activations": (lambda nn, w: nn.Sequential(nn.Hardswish(), nn.Mish(), nn.ELU(), nn.SELU(), nn.Softplus(),
                                                   nn.LogSigmoid(), nn.Hardtanh(), nn.SiLU(), nn.GELU("tanh")),
                       (1, 4, 5), 0),
    "nn.GLU": (lambda nn, w: nn.GLU(), (1, 4, 6), 0),
    "nn.LocalResponseNorm": (lambda nn, w: nn.LocalResponseNorm(3), (1, 6, 5, 5), 0),
    "nn.Unfold": (lambda nn, w: nn.Unfold(3, padding=1), (1, 2, 5, 5), 0),
    "nn.Bilinear": (lambda nn, w: w.TwoOf(nn.Bilinear(6, 6, 4)), (1, 6), 0),
    "nn.CosineSimilarity": (lambda nn, w: w.TwoOf(nn.CosineSimilarity(dim=1)), (2, 6), 0),
    "nn.Unflatten": (lambda nn, w: nn.Sequential(nn.Linear(12, 12), nn.Unflatten(1, (3, 4))), (1, 12), 0),
}
NETWORKS: dict[str, tuple] = {
    "torch-UNet": (lambda nn, w: w.UNet(), (1, 3, 16, 16), 0),
    "torch-DCGAN-generator": (lambda nn, w: w.DCGANGenerator(), (1, 16, 1, 1), 0),
    "torch-VGGish-ceil": (lambda nn, w: w.VGGish(), (1, 3, 14, 14), 0),
    "torch-TextCNN": (lambda nn, w: w.TextCNN(), (1, 12), 0),
    "torch-LSTMTagger": (lambda nn, w: w.LSTMTagger(), (1, 9), 0),
}


def plain(table: dict, key: str) -> Callable:
    def build():
        import torch
        from torch import nn

        make, shape, _ = table[key]
        torch.manual_seed(0)
        model = _randomize_norms(make(nn, _wrappers()))
        return model.eval(), (randn(*shape),)

    return build


for _key, (_, _shape, _batch_dim) in LAYERS.items():
    _add(_key, "layer", plain(LAYERS, _key), _batch_dim)
_NET_CATEGORY = {"torch-UNet": "vision-cnn", "torch-DCGAN-generator": "vision-cnn", "torch-VGGish-ceil": "vision-cnn",
                 "torch-TextCNN": "text-encoder", "torch-LSTMTagger": "text-encoder"}  # fmt: skip
for _key, (_, _shape, _batch_dim) in NETWORKS.items():
    _add(_key, _NET_CATEGORY[_key], plain(NETWORKS, _key), _batch_dim)
