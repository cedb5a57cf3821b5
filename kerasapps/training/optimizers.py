"""The optimizer and its learning-rate schedule, from the config's optimizer and schedule sections."""

import keras


def make_learning_rate(config, steps_per_epoch):
    """The optimizer's learning rate: a float or a Keras schedule over training steps."""
    lr, sched = config.optimizer.learning_rate, config.schedule
    total = steps_per_epoch * config.train.epochs
    warmup = steps_per_epoch * sched.warmup_epochs
    if warmup:  # linear from 0 over the warm-up; alpha=1 decays to 1 times the rate: constant
        return keras.optimizers.schedules.CosineDecay(
            0.0, max(total - warmup, 1), alpha=0.0 if sched.name == "cosine" else 1.0, warmup_target=lr, warmup_steps=warmup
        )
    if sched.name == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total)
    if sched.name == "step":
        boundaries = [int(b * total) for b in sched.boundaries]
        values = [lr * sched.factor**i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return lr


def make_optimizer(config, steps_per_epoch):
    """A Keras optimizer from the config's optimizer and schedule sections."""
    opt = config.optimizer
    common = {
        "learning_rate": make_learning_rate(config, steps_per_epoch),
        "clipnorm": opt.clipnorm,
        "clipvalue": opt.clipvalue,
        "weight_decay": opt.weight_decay or None,
    }
    if opt.name == "sgd":
        return keras.optimizers.SGD(momentum=opt.momentum, nesterov=opt.nesterov, **common)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=opt.momentum, **common)
    if opt.name == "adamw":
        common["weight_decay"] = opt.weight_decay
        return keras.optimizers.AdamW(**common)
    return keras.optimizers.Adam(**common)
