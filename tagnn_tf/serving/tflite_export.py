"""TFLite / LiteRT conversion of an exported SavedModel, builtin ops only.

No Flex (SELECT_TF_OPS) delegate exists for this stack, so the converter is
restricted to `TFLITE_BUILTINS`; a graph that needs any other op fails to
convert with the converter's list of the offending ops (the recurrent
baselines GRU4Rec and NARM: an `InputError` says so). The converted graph
is the export's `tflite_default` signature (item numbers in and out, as
`by_index`, separate scoring GEMMs); in the `.tflite` file it is the
`serving_default` signature. The vocabulary (line i = raw id of item i) is
copied beside the file as `<name>.items.txt`.
"""

from __future__ import annotations

import os
import shutil

import tensorflow as tf

from tagnn_tf.errors import InputError
from tagnn_tf.serving.savedmodel_export import TFLITE_SIGNATURE

QUANTIZATIONS = ("none", "float16", "dynamic_range")


def convert_savedmodel(version_dir: str, output_path: str, quantization: str = "none",
                       signature: str = "") -> str:
    """Converts a signature of the SavedModel at `version_dir` to `output_path`.

    Args:
      version_dir: `<export_dir>/<version>/` written by `export_savedmodel`.
      output_path: the `.tflite` file to write (atomically).
      quantization: `none` (float32), `float16` weights, or `dynamic_range`
        (int8 weights, float activations).
      signature: the SavedModel signature to convert; default `tflite_default`,
        or `serving_default` in exports that predate it. The TFLite model's
        signature is called `serving_default` either way.
    """
    if quantization not in QUANTIZATIONS:
        raise InputError(f"`quantization` must be one of {list(QUANTIZATIONS)}. Received: {quantization!r}")
    if not os.path.exists(os.path.join(version_dir, "saved_model.pb")):
        raise InputError(f"{version_dir} is not a SavedModel version folder (no saved_model.pb)")
    loaded = tf.saved_model.load(version_dir)
    if not signature:
        signature = TFLITE_SIGNATURE if TFLITE_SIGNATURE in loaded.signatures else "serving_default"
    if signature not in loaded.signatures:
        raise InputError(f"{version_dir} has no signature {signature!r}. It has: {sorted(loaded.signatures)}")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([loaded.signatures[signature]], loaded)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        flatbuffer = converter.convert()
    except Exception as e:  # the converter raises its own ConverterError
        if "tensor list" not in str(e).lower():
            raise
        raise InputError(f"{version_dir}: the graph holds a recurrent layer (GRU4Rec, NARM) whose loop needs "
                         "TensorList ops, which TFLite builtins lack; serve this model with the SavedModel "
                         "(every signature works there) or convert a non-recurrent model") from None
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    tmp = output_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(flatbuffer)
    os.replace(tmp, output_path)
    # The .tflite speaks item numbers and the vocabulary travels beside it: LiteRT does not
    # fill hash tables from a vocabulary file (README, "TFLite / LiteRT").
    vocabulary = os.path.join(version_dir, "assets", "items.txt")
    if os.path.exists(vocabulary):
        shutil.copyfile(vocabulary, vocabulary_path(output_path))
    return output_path


def vocabulary_path(tflite_path: str) -> str:
    """Where the item vocabulary of a .tflite file lies: `<name>.items.txt` beside it."""
    return os.path.splitext(tflite_path)[0] + ".items.txt"
