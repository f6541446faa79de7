"""tf.distribute strategies from a `DistributeConfig`.

Call `make_strategy` before anything else touches TensorFlow devices (logical
CPU devices can only be configured before the runtime starts).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tagnn_tf.config import DistributeConfig
from tagnn_tf.errors import InputError


def make_strategy(config: DistributeConfig) -> tf.distribute.Strategy:
    """The strategy `config` asks for.

    `mirrored`: the first `num_devices` GPUs (all when 0); without GPUs, one
    CPU device, or `num_devices` logical CPU devices when > 1.
    `multi_worker`: MultiWorkerMirroredStrategy over the cluster in `TF_CONFIG`
    (ring all-reduce on CPU, NCCL picked automatically on GPUs).
    """
    if config.strategy == "default":
        return tf.distribute.get_strategy()
    if config.strategy == "mirrored":
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            count = config.num_devices or len(gpus)
            if count > len(gpus):
                raise InputError(f"`num_devices`={count} but this host has {len(gpus)} GPUs")
            return tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(count)])
        count = max(config.num_devices, 1)
        if count > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(count)])
    # multi_worker
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError("`strategy`=multi_worker needs the TF_CONFIG environment variable "
                         "(cluster and this task; see README, Scaling out)")
    try:
        tf_config = json.loads(raw)
        tf_config["cluster"], tf_config["task"]["type"], tf_config["task"]["index"]
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"TF_CONFIG must be JSON with cluster and task.type/task.index. Received: {raw!r}") from e
    implementation = (tf.distribute.experimental.CommunicationImplementation.AUTO
                      if tf.config.list_physical_devices("GPU")
                      else tf.distribute.experimental.CommunicationImplementation.RING)
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(implementation=implementation))
