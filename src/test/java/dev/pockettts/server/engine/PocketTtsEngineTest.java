package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PocketTtsEngineTest {

  private static final GenerationParams EXACT = GenerationParams.defaults().withTemperature(0);
  private static PocketTtsEngine engine;

  @BeforeAll
  static void load() {
    engine = TinyModels.bundle();
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  private static VoiceState voice(String name) {
    return engine.voiceFromFile(TinyModels.BUNDLE.resolve("voices/" + name + ".safetensors"));
  }

  private static float[] speak(PocketTtsEngine e, String text, VoiceState v, GenerationParams p) {
    PcmCollector pcm = new PcmCollector();
    e.synthesize(text, v, p, pcm, null);
    return pcm.samples();
  }

  @Test
  void speaksOneSentenceForTheDurationTheTextAsks() {
    String text = "Hello there, how are you today?";
    List<TextChunk> chunks = engine.chunk(text, EXACT);
    assertThat(chunks).hasSize(1);
    int tokens = chunks.get(0).tokens().length;
    PcmCollector pcm = new PcmCollector();
    SynthesisResult r = engine.synthesize(text, voice("alba"), EXACT, pcm, null);

    int frames = TinyModels.chunkFrames(tokens, 3); // more than four words: EOS frame + 2
    assertThat(r.frames()).isEqualTo(frames);
    assertThat(r.chunksWithoutEos()).isZero();
    float[] s = pcm.samples();
    assertThat(s).hasSize(frames * TinyModels.SAMPLES_PER_FRAME);
    assertThat(r.samples()).isEqualTo(s.length);
    assertThat(Signal.frequency(s, TinyModels.SAMPLE_RATE)).isCloseTo(150, within(1.0));
    assertThat(Signal.rms(s, 0, s.length))
        .isCloseTo(TinyModels.chunkAmplitude(tokens) / Math.sqrt(2), within(0.002));
  }

  @Test
  void shortInputsGetFiveFramesAfterEos() {
    List<TextChunk> chunks = engine.chunk("hello world", EXACT);
    assertThat(chunks.get(0).text()).isEqualTo("Hello world.");
    assertThat(chunks.get(0).framesAfterEos()).isEqualTo(5);
    SynthesisResult r = engine.synthesize("hello world", voice("alba"), EXACT, s -> {}, null);
    assertThat(r.frames()).isEqualTo(TinyModels.chunkFrames(chunks.get(0).tokens().length, 5));
  }

  @ParameterizedTest
  @ValueSource(strings = {"alba", "lucie", "olivier"})
  void aTwelveLayerBundleTakesItsStateOrderAndFlagsFromBundleJson(String name) {
    // the module names sort as layers.0, layers.1, layers.10, layers.11, layers.2, ...: each
    // layer's voice cache carries its own scale, so any other order changes the pitch
    try (PocketTtsEngine french =
        PocketTtsEngine.load(TinyModels.FRENCH, EngineOptions.defaults())) {
      assertThat(french.config().language()).isEqualTo("french_24l"); // as the exporter writes it
      assertThat(french.config().languageFamily()).isEqualTo("french");
      assertThat(french.config().flowStates()).hasSize(36);
      assertThat(french.config().flowStates().get(6).inputName()).isEqualTo("state_6");
      assertThat(french.config().flowStates().get(6).module())
          .isEqualTo("transformer.layers.10.self_attn");
      VoiceState v =
          french.voiceFromFile(TinyModels.FRENCH.resolve("voices/" + name + ".safetensors"));
      String text = "Bonjour; comment allez-vous aujourd'hui, mes amis?";
      List<TextChunk> chunks = french.chunk(text, EXACT);
      assertThat(chunks).hasSize(1);
      assertThat(chunks.get(0).text()).doesNotContain(";"); // remove_semicolons
      PcmCollector pcm = new PcmCollector();
      SynthesisResult r =
          french.synthesize(text, v, EXACT, pcm, null); // 8 frames after EOS: the model's value
      assertThat(r.frames()).isEqualTo(TinyModels.chunkFrames(chunks.get(0).tokens().length, 8));
      assertThat(Signal.frequency(pcm.samples(), TinyModels.SAMPLE_RATE))
          .isCloseTo(TinyModels.frenchVoiceHz(name), within(1.0));
      // its own tokenizer: the same text is not cut into the same tokens as in English
      assertThat(french.chunk(text, EXACT).get(0).tokens())
          .isNotEqualTo(engine.chunk(text, EXACT).get(0).tokens());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"alba", "marius", "cosette", "anna", "vera", "caro_davy"})
  void eachBuiltInVoiceSpeaksWithItsOwnPitch(String name) {
    // anna is stored as bf16 and vera as f16: both convert exactly
    float[] s = speak(engine, "The voice is the one that was asked for.", voice(name), EXACT);
    assertThat(Signal.frequency(s, TinyModels.SAMPLE_RATE))
        .isCloseTo(TinyModels.voiceHz(name), within(1.0));
    assertThat(Signal.rms(s, 0, s.length)).isGreaterThan(0.05);
  }

  @Test
  void voiceFromReferenceAudioCarriesItsLoudnessAsPitchAndTheBosBeforeVoice() {
    int frames = 12;
    float[] ref =
        Signal.sine(220, 0.25, frames * TinyModels.SAMPLES_PER_FRAME, TinyModels.SAMPLE_RATE);
    double rms = Signal.rms(ref, 0, ref.length);
    VoiceState cloned = engine.voiceFromAudio(ref);
    assertThat(cloned.positions()).isEqualTo(frames + 1); // BOS-before-voice + frames
    float[] s = speak(engine, "A cloned voice speaks this sentence.", cloned, EXACT);
    // a lost BOS-before-voice or NaN start marker makes the tiny decoder silent
    assertThat(Signal.rms(s, 0, s.length)).isGreaterThan(0.05);
    assertThat(Signal.frequency(s, TinyModels.SAMPLE_RATE))
        .isCloseTo(100 * (1 + 8 * rms), within(1.5));
  }

  @Test
  void referenceAudioIsPaddedToWholeFrames() {
    VoiceState v = engine.voiceFromAudio(new float[TinyModels.SAMPLES_PER_FRAME * 3 + 5]);
    assertThat(v.positions()).isEqualTo(1 + 4);
  }

  @Test
  void exportedVoiceLoadsBackToTheSameSpeech() throws IOException {
    VoiceState cloned = engine.voiceFromAudio(Signal.sine(200, 0.3, 24000, 24000));
    Path file = Files.createTempFile("voice", ".safetensors");
    try {
      Files.write(file, engine.exportVoice(cloned));
      VoiceState back = engine.voiceFromFile(file);
      assertThat(back.positions()).isEqualTo(cloned.positions());
      assertThat(speak(engine, "Same voice, same speech.", back, EXACT))
          .containsExactly(speak(engine, "Same voice, same speech.", cloned, EXACT));
    } finally {
      Files.delete(file);
    }
  }

  @Test
  void decodingInBlocksEqualsDecodingOneLatentAtATime() {
    String text = "It is a truth universally acknowledged. A single man must be in want of a wife.";
    float[] single = speak(engine, text, voice("jean"), EXACT.withDecoderBlocks(1, 1));
    float[] blocks = speak(engine, text, voice("jean"), EXACT.withDecoderBlocks(2, 12));
    float[] big = speak(engine, text, voice("jean"), EXACT.withDecoderBlocks(46, 46));
    assertThat(blocks).hasSameSizeAs(single);
    assertThat(big).hasSameSizeAs(single);
    for (int i = 0; i < single.length; i++) {
      assertThat(blocks[i]).isCloseTo(single[i], within(1e-5f));
      assertThat(big[i]).isCloseTo(single[i], within(1e-5f));
    }
  }

  @Test
  void firstBlockIsSmallAndLaterBlocksGrowWithTheAudioDeliveredUpToTheMaximum() {
    PcmCollector pcm = new PcmCollector();
    engine.synthesize(
        "A sentence long enough to need several decoder blocks in a row.",
        voice("alba"),
        EXACT.withDecoderBlocks(2, 5),
        pcm,
        null);
    List<Integer> frames =
        pcm.blocks().stream().map(b -> b.length / TinyModels.SAMPLES_PER_FRAME).toList();
    // 2 frames, then as many as were delivered before (2, then 4), then at most 5
    assertThat(frames.subList(0, 4)).containsExactly(2, 2, 4, 5);
    assertThat(frames).allSatisfy(f -> assertThat(f).isBetween(1, 5));
  }

  @Test
  void pauseMarkersInsertExactSilenceBetweenTheSpokenParts() {
    String first = "Hello there, how are you today?";
    String second = "I am fine, thank you.";
    float[] a = speak(engine, first, voice("alba"), EXACT);
    float[] b = speak(engine, second, voice("alba"), EXACT);
    float[] all =
        speak(engine, first + " [pause:500ms] " + second + "[PAUSE:1.5s]", voice("alba"), EXACT);
    assertThat(all).hasSize(a.length + 12_000 + b.length + 36_000);
    assertThat(java.util.Arrays.copyOfRange(all, 0, a.length)).containsExactly(a);
    for (int i = a.length; i < a.length + 12_000; i++) {
      assertThat(all[i]).isZero();
    }
    assertThat(java.util.Arrays.copyOfRange(all, a.length + 12_000, a.length + 12_000 + b.length))
        .containsExactly(b);
    assertThat(engine.chunk("[pause:2s]", EXACT))
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.isPause()).isTrue();
              assertThat(c.pauseMillis()).isEqualTo(2000);
            });
  }

  @Test
  void aPauseOverTenSecondsIsRefused() {
    assertThatThrownBy(() -> engine.chunk("Hello. [pause:11s] Bye.", EXACT))
        .isInstanceOf(InvalidTextException.class)
        .hasMessageContaining("[pause:11s]");
  }

  @Test
  void warmUpRunsEveryGraphAndLeavesVoicesUntouched() {
    VoiceState alba = voice("alba");
    float[] before = speak(engine, "The same words twice.", alba, EXACT);
    assertThat(engine.warmUp(EXACT)).isNotNegative();
    float[] after = speak(engine, "The same words twice.", alba, EXACT);
    assertThat(after).containsExactly(before);
  }

  @Test
  void sameSeedGivesTheSameAudioAndAnotherSeedDoesNot() {
    GenerationParams noisy = GenerationParams.defaults().withSeed(42L);
    float[] a = speak(engine, "Noise makes every take different.", voice("alba"), noisy);
    float[] b = speak(engine, "Noise makes every take different.", voice("alba"), noisy);
    float[] c =
        speak(engine, "Noise makes every take different.", voice("alba"), noisy.withSeed(7L));
    assertThat(a).containsExactly(b);
    assertThat(c).isNotEqualTo(a);
  }

  @Test
  void zeroTemperatureIsDeterministicWithoutASeed() {
    assertThat(speak(engine, "No noise at all.", voice("paul"), EXACT))
        .containsExactly(speak(engine, "No noise at all.", voice("paul"), EXACT));
  }

  @Test
  void flowStepsIntegrateOverTheUnitInterval() {
    // the tiny flow head has a constant velocity: any number of Euler steps lands on the same x
    float[] one = speak(engine, "Four steps or one.", voice("eve"), EXACT);
    float[] four = speak(engine, "Four steps or one.", voice("eve"), EXACT.withLsdSteps(4));
    assertThat(four).hasSameSizeAs(one);
    for (int i = 0; i < one.length; i++) {
      assertThat(four[i]).isCloseTo(one[i], within(1e-4f));
    }
  }

  @Test
  void withoutEosAChunkStopsAtTheReferenceMaximumLength() {
    String text = "This chunk never ends by itself.";
    int tokens = engine.chunk(text, EXACT).get(0).tokens().length;
    SynthesisResult r =
        engine.synthesize(text, voice("alba"), EXACT.withEosThreshold(1e9f), s -> {}, null);
    assertThat(r.frames()).isEqualTo((int) Math.ceil((tokens / 3.0 + 2) * 12.5));
    assertThat(r.chunksWithoutEos()).isEqualTo(1);
  }

  @Test
  void explicitFramesAfterEosOverrideTheRule() {
    String text = "Exactly one frame after the end.";
    int tokens = engine.chunk(text, EXACT).get(0).tokens().length;
    SynthesisResult r =
        engine.synthesize(text, voice("alba"), EXACT.withFramesAfterEos(1), s -> {}, null);
    assertThat(r.frames()).isEqualTo(TinyModels.chunkFrames(tokens, 1));
  }

  @Test
  void anEndOfSpeechInTheFirstSixFramesIsIgnoredAndTheChunkGoesOn() {
    // a chunk of one token ("I", as the tokenizer cuts "I."): the tiny flow LM's EOS logit
    // crosses -4 at step 2 (2 frames per token) and stays over it
    int[] tokens = {engine.chunk("I", EXACT).get(0).tokens()[0]};
    List<TextChunk> one = List.of(new TextChunk("I", tokens, 5));
    SynthesisResult upstream = engine.synthesize(one, voice("alba"), EXACT, s -> {}, null);
    // not believed before step 6: EOS at step 6, then that frame and 4 more
    assertThat(upstream.frames()).isEqualTo(6 + 5);
    assertThat(upstream.chunksWithoutEos()).isZero();
    // without the minimum the EOS at step 2 ends it
    SynthesisResult early =
        engine.synthesize(one, voice("alba"), EXACT.withMinFramesBeforeEos(0), s -> {}, null);
    assertThat(early.frames()).isEqualTo(2 + 5);
    // exactly frames_after_eos frames from the EOS frame on: generation stops before frame
    // eos_step + frames_after_eos (CONTRACT.md 3.4)
    for (int f = 1; f <= 4; f++) {
      GenerationParams p = EXACT.withFramesAfterEos(f);
      assertThat(engine.synthesize(one, voice("alba"), p, s -> {}, null).frames())
          .as("frames after EOS %d", f)
          .isEqualTo(6 + f);
      assertThat(
              engine
                  .synthesize(one, voice("alba"), p.withMinFramesBeforeEos(0), s -> {}, null)
                  .frames())
          .isEqualTo(2 + f);
    }
    // a two-token chunk ("I."): EOS at step 4, also ignored
    assertThat(engine.synthesize("I", voice("alba"), EXACT, s -> {}, null).frames())
        .isEqualTo(6 + 5);
  }

  @Test
  void theFirstFiveMillisecondsOfEachChunkFadeInAndTheRestIsUntouched() {
    String text =
        "It is a truth universally acknowledged, that a single man in possession of a good"
            + " fortune. [pause:200ms] He must be in want of a wife, or so they say.";
    List<TextChunk> chunks = engine.chunk(text, EXACT);
    assertThat(chunks).hasSize(3);
    PcmCollector fadedPcm = new PcmCollector();
    SynthesisResult r = engine.synthesize(text, voice("jean"), EXACT, fadedPcm, null);
    float[] faded = fadedPcm.samples();
    float[] raw = speak(engine, text, voice("jean"), EXACT.withFadeIn(false));
    assertThat(faded).hasSameSizeAs(raw);
    int first = TinyModels.chunkFrames(chunks.get(0).tokens().length, 3) * 1920;
    int pause = 200 * 24;
    int ramp = 24000 / 200;
    assertThat(ramp).isEqualTo(120);
    for (int start : new int[] {0, first + pause}) {
      assertThat(Math.abs(raw[start + 60])).isGreaterThan(0.001f); // there is sound to fade
      for (int i = 0; i < ramp; i++) {
        assertThat(faded[start + i])
            .as("sample %d of the chunk at %d", i, start)
            .isCloseTo(raw[start + i] * (float) (i / 119.0), within(1e-7f));
      }
      assertThat(faded[start]).isZero();
      assertThat(faded[start + 119]).isEqualTo(raw[start + 119]);
    }
    // everything else is untouched, and the pause stays exact zeros
    for (int i = 0; i < raw.length; i++) {
      boolean inRamp = i < ramp || (i >= first + pause && i < first + pause + ramp);
      if (!inRamp) {
        assertThat(faded[i]).as("sample %d", i).isEqualTo(raw[i]);
      }
    }
    for (int i = first; i < first + pause; i++) {
      assertThat(faded[i]).isZero();
    }
    assertThat(r.samples()).isEqualTo(raw.length);
  }

  @Test
  void theTemperatureDefaultsToTheBundlesValueElseUpstreamsPointThree(@TempDir Path tmp)
      throws IOException {
    String text = "Noise at the model's own temperature.";
    GenerationParams seeded = GenerationParams.defaults().withSeed(5L);
    assertThat(seeded.temperature()).isNull();
    // the tiny bundle names no default_temperature, as the published one: 0.3
    float[] byDefault = speak(engine, text, voice("alba"), seeded);
    assertThat(byDefault)
        .containsExactly(speak(engine, text, voice("alba"), seeded.withTemperature(0.3)));
    assertThat(byDefault)
        .isNotEqualTo(speak(engine, text, voice("alba"), seeded.withTemperature(0.7)));
    // a bundle that says default_temperature 0.5 samples at 0.5 unless told otherwise
    TinyModels.copy(TinyModels.BUNDLE, tmp);
    Path json = tmp.resolve("bundle.json");
    Files.writeString(
        json, Files.readString(json).replaceFirst("\\{", "{\n  \"default_temperature\": 0.5,"));
    try (PocketTtsEngine warm = PocketTtsEngine.load(tmp, EngineOptions.defaults())) {
      assertThat(warm.config().defaultTemperature()).isEqualTo(0.5f);
      VoiceState alba = warm.voiceFromFile(tmp.resolve("voices/alba.safetensors"));
      float[] bundleDefault = speak(warm, text, alba, seeded);
      assertThat(bundleDefault)
          .containsExactly(speak(warm, text, alba, seeded.withTemperature(0.5)));
      assertThat(bundleDefault).isNotEqualTo(speak(warm, text, alba, seeded.withTemperature(0.3)));
      // an explicit temperature wins over the bundle's
      assertThat(speak(warm, text, alba, seeded.withTemperature(0)))
          .containsExactly(speak(engine, text, voice("alba"), EXACT));
    }
  }

  @Test
  void chunksAreSpokenInOrderEachFromAFreshState() throws IOException {
    String text = Files.readString(Path.of("src/test/resources/text/pride-and-prejudice.txt"));
    List<TextChunk> chunks = engine.chunk(text, EXACT);
    assertThat(chunks.size()).isGreaterThan(5);
    float[] s = speak(engine, text, voice("fantine"), EXACT);
    int at = 0;
    for (TextChunk c : chunks) {
      int n = TinyModels.chunkFrames(c.tokens().length, c.framesAfterEos()) * 1920;
      // a state carried over from the previous chunk would change both length and loudness
      assertThat(Signal.rms(s, at, at + n))
          .as("chunk '%s'", c.text())
          .isCloseTo(TinyModels.chunkAmplitude(c.tokens().length) / Math.sqrt(2), within(0.003));
      assertThat(Signal.frequency(s, at, at + n, 24000))
          .isCloseTo(TinyModels.voiceHz("fantine"), within(2.0));
      at += n;
    }
    assertThat(at).isEqualTo(s.length);
  }

  @Test
  void cancellationStopsWithinAFrame() throws Exception {
    Cancellation cancel = new Cancellation();
    PcmCollector pcm = new PcmCollector();
    String text = "A long text. ".repeat(40);
    SynthesisResult r =
        engine.synthesize(
            text,
            voice("alba"),
            EXACT,
            block -> {
              pcm.accept(block);
              cancel.cancel();
            },
            cancel);
    assertThat(r.cancelled()).isTrue();
    assertThat(r.chunks()).isGreaterThan(5);
    // nothing is delivered after the cancellation, and generation stops at its next frame: it can
    // be no further ahead of the decoder than the hand-off between them holds (64 frames), far
    // short of the whole text
    assertThat(pcm.blocks()).hasSize(1);
    assertThat(r.frames()).isLessThanOrEqualTo(2 + 64 + 1);
    int whole =
        engine.chunk(text, EXACT).stream()
            .mapToInt(c -> TinyModels.chunkFrames(c.tokens().length, c.framesAfterEos()))
            .sum();
    assertThat(r.frames()).isLessThan(whole / 4);
  }

  @Test
  void aFailingSinkStopsTheSynthesis() {
    SynthesisResult r =
        engine.synthesize(
            "The client goes away. ".repeat(20),
            voice("alba"),
            EXACT,
            block -> {
              throw new IOException("client gone");
            },
            null);
    assertThat(r.cancelled()).isTrue();
    assertThat(r.samples()).isPositive();
  }

  @Test
  void concurrentSynthesesKeepTheirOwnState() throws Exception {
    String a = "The first speaker reads a sentence of moderate length.";
    String b = "Another voice, another text.";
    float[] soloA = speak(engine, a, voice("alba"), EXACT);
    float[] soloB = speak(engine, b, voice("george"), EXACT);
    CountDownLatch go = new CountDownLatch(1);
    CompletableFuture<float[]> fa =
        CompletableFuture.supplyAsync(
            () -> {
              await(go);
              return speak(engine, a, voice("alba"), EXACT);
            });
    CompletableFuture<float[]> fb =
        CompletableFuture.supplyAsync(
            () -> {
              await(go);
              return speak(engine, b, voice("george"), EXACT);
            });
    go.countDown();
    assertThat(fa.get(30, TimeUnit.SECONDS)).containsExactly(soloA);
    assertThat(fb.get(30, TimeUnit.SECONDS)).containsExactly(soloB);
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void oneVoiceStateServesManyRequestsUnchanged() {
    VoiceState v = voice("mary");
    float[] first = speak(engine, "Again and again.", v, EXACT);
    for (int i = 0; i < 3; i++) {
      assertThat(speak(engine, "Again and again.", v, EXACT)).containsExactly(first);
    }
  }

  @Test
  void emptyTextIsRefused() {
    assertThatThrownBy(() -> engine.synthesize("   \n ", voice("alba"), EXACT, s -> {}, null))
        .isInstanceOf(InvalidTextException.class);
  }

  @Test
  void emptyReferenceAudioIsRefused() {
    assertThatThrownBy(() -> engine.voiceFromAudio(new float[0]))
        .isInstanceOf(EngineException.class)
        .hasMessageContaining("empty");
  }

  @Test
  void aCorruptVoiceFileIsRefusedWithItsName(@TempDir Path tmp) throws IOException {
    Path bad = tmp.resolve("broken.safetensors");
    Files.write(bad, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
    assertThatThrownBy(() -> engine.voiceFromFile(bad))
        .isInstanceOf(EngineException.class)
        .hasMessageContaining("broken.safetensors");
  }

  @Test
  void aVoiceForAnotherArchitectureIsRefused(@TempDir Path tmp) throws IOException {
    byte[] other =
        Safetensors.write(
            java.util.Map.of(
                "transformer.layers.0.self_attn/cache",
                new Safetensors.Tensor(
                    "F32",
                    new long[] {2, 1, 3, 16, 64},
                    java.nio.ByteBuffer.allocate(4 * 2 * 3 * 16 * 64))));
    Path file = tmp.resolve("big.safetensors");
    Files.write(file, other);
    assertThatThrownBy(() -> engine.voiceFromFile(file))
        .isInstanceOf(EngineException.class)
        .hasMessageContaining("model-specific");
  }
}
