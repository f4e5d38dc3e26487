"""The transformer shape of the projection: `raxlab.shape` (a shared leaf, so the card uses the
same arithmetic), re-exported here under the name the predict package has always used."""

from raxlab.shape import (  # noqa: F401
    MLAShape,
    MoEShape,
    TransformerShape,
    megatron_eq3_flops,
    shape_from_card,
    shape_from_layer_shape,
)
