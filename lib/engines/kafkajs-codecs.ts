/**
 * LZ4 for kafkajs, which ships only gzip. Kafka's LZ4 is the standard LZ4 frame format
 * (record batch v2; the broken checksum of magic v0 is long gone), which `lz4-napi` writes and
 * reads; its native binaries come as per-platform npm packages, so installing it downloads
 * nothing else. Registering is process-wide: every kafkajs client, producer or consumer, can
 * then write and read lz4 batches, including those librdkafka or the Java client wrote.
 */
import kafkajs from 'kafkajs';
import { compressFrame, decompressFrame } from 'lz4-napi';

// Node's CommonJS named-export detection misses `CompressionCodecs`; the default export has it.
const { CompressionCodecs, CompressionTypes } = kafkajs;

let registered = false;

/** Registers the LZ4 codec with kafkajs (idempotent). Call before producing or consuming. */
export function registerKafkajsCodecs(): void {
  if (registered) return;
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: (encoder: { buffer: Buffer }) => compressFrame(encoder.buffer),
    decompress: (buffer: Buffer) => decompressFrame(buffer),
  });
  registered = true;
}
