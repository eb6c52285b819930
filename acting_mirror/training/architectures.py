"""Model builders, in the style of keras.applications: one function per family.

- `mini_xception`: faithful to Arriaga et al. 2017 ("Real-time Convolutional Neural
  Networks for Emotion and Gender Classification"), the network the original Acting
  Mirror used: two 3x3 convs then four residual depthwise-separable modules, a
  class-count conv and global average pooling, L2 0.01 on the kernels.
- `mirror_net`: our default. A compact VGG/ResNet hybrid: residual stages of plain
  3x3 convs (dense 3x3 convs train far faster per FLOP than depthwise ones on a
  CPU and learn FER's small texture cues better), global average pooling, dropout.

Every builder takes (input_shape, num_classes, width) and returns an uncompiled
keras.Model ending in softmax.
"""

from __future__ import annotations


def _channels(base: int, width: float) -> int:
    return max(4, int(round(base * width)))


def mini_xception(input_shape=(48, 48, 1), num_classes=7, width: float = 1.0, l2: float = 0.01):
    import keras
    from keras import layers

    regularizer = keras.regularizers.L2(l2)
    inputs = keras.Input(input_shape, name="face")
    x = inputs
    for _ in range(2):
        x = layers.Conv2D(_channels(8, width), 3, use_bias=False, kernel_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    for base in (16, 32, 64, 128):
        filters = _channels(base, width)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
        residual = layers.BatchNormalization()(residual)
        x = layers.SeparableConv2D(
            filters, 3, padding="same", use_bias=False,
            depthwise_regularizer=regularizer, pointwise_regularizer=regularizer,
        )(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(
            filters, 3, padding="same", use_bias=False,
            depthwise_regularizer=regularizer, pointwise_regularizer=regularizer,
        )(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.add([x, residual])
    x = layers.Conv2D(num_classes, 3, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


def mirror_net(input_shape=(48, 48, 1), num_classes=7, width: float = 1.0, l2: float = 1e-4,
               dropout: float = 0.4):
    import keras
    from keras import layers

    regularizer = keras.regularizers.L2(l2)

    def conv_bn_relu(x, filters, kernel=3, strides=1):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                          kernel_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x)

    def residual_block(x, filters, strides):
        shortcut = x
        if strides != 1 or x.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                     kernel_regularizer=regularizer)(x)
            shortcut = layers.BatchNormalization()(shortcut)
        y = conv_bn_relu(x, filters, strides=strides)
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=regularizer)(y)
        y = layers.BatchNormalization()(y)
        return layers.Activation("relu")(layers.add([y, shortcut]))

    inputs = keras.Input(input_shape, name="face")
    x = conv_bn_relu(inputs, _channels(32, width))                 # 48x48
    x = residual_block(x, _channels(64, width), strides=2)         # 24x24
    x = residual_block(x, _channels(64, width), strides=1)
    x = residual_block(x, _channels(128, width), strides=2)        # 12x12
    x = residual_block(x, _channels(128, width), strides=1)
    x = residual_block(x, _channels(256, width), strides=2)        # 6x6
    x = residual_block(x, _channels(256, width), strides=1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mirror_net")


ARCHITECTURES = {
    "mini_xception": mini_xception,
    "mirror_net": mirror_net,
}


def build(name: str, input_shape=(48, 48, 1), num_classes: int = 7, width: float = 1.0):
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](input_shape=input_shape, num_classes=num_classes, width=width)
