package dev.pockettts.server.engine;

/**
 * One piece of a script that is generated on its own, from a fresh copy of the voice state.
 *
 * @param text the chunk's text as it is tokenised
 * @param tokens its SentencePiece ids
 * @param framesAfterEos frames emitted from the EOS frame on, by the reference rule (5 for four
 *     words or fewer, else 3)
 */
public record TextChunk(String text, int[] tokens, int framesAfterEos) {}
