/**
 * Registers the duet-tf layer classes a device model may contain, so `tf.loadLayersModel` can
 * rebuild it in the browser. Only browser-safe layer files are imported here.
 */
import '../layers/dynamic_dense';
import '../layers/gru';
import '../layers/multi_head_attention';
import '../layers/position_embedding';
import '../layers/sequence_mask';
import '../layers/sequence_pooling';
import '../layers/target_attention';
import '../layers/transformer_block';
