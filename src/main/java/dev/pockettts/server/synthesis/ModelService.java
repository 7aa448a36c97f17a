package dev.pockettts.server.synthesis;

import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.engine.EngineException;
import dev.pockettts.server.engine.Language;
import dev.pockettts.server.engine.PocketTtsEngine;
import dev.pockettts.server.model.DownloadProgress;
import dev.pockettts.server.model.HubClient;
import dev.pockettts.server.model.ModelFileException;
import dev.pockettts.server.model.ModelSettings;
import dev.pockettts.server.model.ModelStore;
import dev.pockettts.server.system.ClientText;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Service;

/**
 * Owns the models: downloads and loads each configured bundle in the background once the server is
 * up, so that {@code /health} answers at once, and hands a bundle's engine to requests when all are
 * ready. The first bundle is the default.
 */
@Service
public class ModelService implements DisposableBean {

  private static final Logger log = LoggerFactory.getLogger(ModelService.class);

  /** Where the models are in their life. */
  public enum State {
    STARTING,
    DOWNLOADING,
    LOADING,
    /** Loaded, speaking a first script so the first request is fast (requests are served). */
    WARMING,
    READY,
    FAILED
  }

  /**
   * One loaded bundle.
   *
   * @param name its {@code bundle_name} (what requests and saved voices use)
   * @param configured its name in {@code MODEL_BUNDLE(S)}, also accepted in requests
   */
  public record Bundle(String name, String configured, ModelStore store, PocketTtsEngine engine) {

    /**
     * The language the bundle speaks ({@code english} for {@code english_2026-04}); the bundle's
     * own value when it names no language this server knows.
     */
    public String language() {
      return Language.familyOr(engine.config().language());
    }

    /** The bundle's {@code language} field as written: its model config, e.g. english_2026-04. */
    public String languageVariant() {
      return engine.config().language();
    }

    /** Null when cloning works with this bundle, else why not. */
    public String cloningProblem() {
      return store.cloningProblem() != null
          ? store.cloningProblem()
          : engine.cloningUnavailableReason();
    }

    boolean answersTo(String model) {
      return name.equalsIgnoreCase(model) || configured.equalsIgnoreCase(model);
    }
  }

  private final ServerSettings settings;
  private final List<ModelStore> stores;
  private final DownloadProgress progress = new DownloadProgress();
  private volatile State state = State.STARTING;
  private volatile List<Bundle> bundles = List.of();
  private final List<Runnable> readyActions = new ArrayList<>();
  private volatile String error;

  /** First wait before a download is tried again after a network failure; it doubles each time. */
  static final Duration FIRST_RETRY = Duration.ofSeconds(10);

  /** Longest wait between two tries. */
  static final Duration MAX_RETRY = Duration.ofMinutes(5);

  private final Duration firstRetry;
  private volatile Retry retry;
  private volatile Thread loader;
  private volatile boolean closed;

  /**
   * A download that failed for want of the network and will be tried again.
   *
   * @param failures network failures so far
   * @param nextAttempt when the next try starts
   * @param delay how long it waits for it (it doubles with each failure, up to 5 minutes)
   * @param lastError why the last one failed (no server paths)
   */
  public record Retry(
      int failures, java.time.Instant nextAttempt, Duration delay, String lastError) {}

  @org.springframework.beans.factory.annotation.Autowired
  public ModelService(ServerSettings settings) {
    this(settings, FIRST_RETRY, 5, Duration.ofSeconds(2));
  }

  /** With the waits of its own (the tests' short ones): between loads, and within a download. */
  ModelService(
      ServerSettings settings, Duration firstRetry, int downloadAttempts, Duration downloadDelay) {
    this.settings = settings;
    this.firstRetry = firstRetry;
    HubClient hub =
        new HubClient(
            settings.model().endpoint(), settings.model().token(), downloadAttempts, downloadDelay);
    List<ModelSettings> models = settings.models();
    this.stores = models.stream().map(m -> new ModelStore(m, hub, progress)).toList();
  }

  /**
   * Runs {@code action} on the loader thread once the models are loaded, before {@code /health}
   * says they are ready (at once, here, when they already are loaded), for work that makes the
   * first requests faster; its failure is logged, never fatal.
   */
  public void whenReady(Runnable action) {
    synchronized (readyActions) {
      if (state != State.READY && state != State.WARMING) {
        readyActions.add(action);
        return;
      }
    }
    runReadyAction(action);
  }

  private void runReadyAction(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException e) {
      log.warn("A preparation after the model load failed: {}", e.toString());
    }
  }

  @EventListener(ApplicationReadyEvent.class)
  void startLoading() {
    Thread t = new Thread(this::loadUntilDone, "model-loader");
    t.setDaemon(true);
    loader = t;
    t.start();
  }

  /**
   * Loads the models; a download that fails for want of the network (no route, DNS, refused, timed
   * out) is tried again and again, after a wait that doubles from 10 s up to 5 minutes, while
   * {@code /health} shows the next attempt. Any other failure is final.
   */
  private void loadUntilDone() {
    Duration wait = firstRetry;
    int failures = 0;
    while (!closed) {
      try {
        loadOnce();
        return;
      } catch (ModelFileException e) {
        failures++;
        String why = ClientText.fileNamesOnly(e.getMessage());
        java.time.Instant next = java.time.Instant.now().plus(wait);
        retry = new Retry(failures, next, wait, why);
        log.warn(
            "The model download failed ({}); trying again in {} s (failure {})",
            e.getMessage(),
            wait.toSeconds(),
            failures);
        try {
          Thread.sleep(wait.toMillis());
        } catch (InterruptedException ie) {
          return;
        }
        wait = wait.multipliedBy(2).compareTo(MAX_RETRY) > 0 ? MAX_RETRY : wait.multipliedBy(2);
      }
    }
  }

  /** Null unless a download is waiting to be tried again. */
  public Retry retry() {
    return state == State.DOWNLOADING ? retry : null;
  }

  /**
   * One attempt, which ends ready or failed for good; a network failure of a download is thrown,
   * for the caller to try again.
   */
  private void loadOnce() {
    List<Bundle> loaded = new ArrayList<>();
    String current = stores.get(0).bundle();
    try {
      state = State.DOWNLOADING;
      List<Path> folders = new ArrayList<>();
      for (ModelStore store : stores) {
        current = store.bundle();
        folders.add(store.ensureModel());
      }
      state = State.LOADING;
      for (int i = 0; i < stores.size(); i++) {
        ModelStore store = stores.get(i);
        current = store.bundle();
        loaded.add(load(store, folders.get(i)));
      }
      Set<String> names = new HashSet<>();
      for (Bundle b : loaded) {
        if (!names.add(b.name().toLowerCase(Locale.ROOT))) {
          throw new EngineException("two bundles call themselves " + b.name());
        }
      }
      bundles = List.copyOf(loaded);
      retry = null;
      List<Runnable> actions;
      synchronized (readyActions) {
        state = State.WARMING;
        actions = List.copyOf(readyActions);
        readyActions.clear();
      }
      actions.forEach(this::runReadyAction);
      state = State.READY;
    } catch (ModelFileException e) {
      if (e.reason() == ModelFileException.Reason.NETWORK) {
        loaded.forEach(b -> b.engine().close());
        throw e;
      }
      fail(e, current, loaded);
    } catch (RuntimeException e) {
      fail(e, current, loaded);
    }
  }

  private void fail(RuntimeException e, String current, List<Bundle> loaded) {
    loaded.forEach(b -> b.engine().close());
    String why = (stores.size() > 1 ? "bundle " + current + ": " : "") + e.getMessage();
    log.error("The model could not be loaded: {}", why);
    error = ClientText.fileNamesOnly(why);
    retry = null;
    state = State.FAILED;
  }

  private Bundle load(ModelStore store, Path folder) {
    PocketTtsEngine engine = PocketTtsEngine.load(folder, settings.engine());
    try {
      log.info("Warmed up the model in {} ms", engine.warmUp(settings.generation()));
    } catch (RuntimeException e) {
      engine.close();
      throw new EngineException("the model failed its warm-up synthesis: " + e.getMessage(), e);
    }
    // the configured name is the bundle's only when it was fetched as that bundle: a MODELS_DIR
    // that itself holds a model answers to the name its bundle.json gives, and to no other
    String configured =
        folder.getFileName() != null && folder.getFileName().toString().equals(store.bundle())
            ? store.bundle()
            : engine.config().name();
    Bundle b = new Bundle(engine.config().name(), configured, store, engine);
    if (b.cloningProblem() != null) {
      log.warn("{}", b.cloningProblem());
    }
    log.info(
        "Model {} ready ({}): {} voices, cloning {}",
        b.name(),
        b.language(),
        store.voiceNames().size(),
        b.cloningProblem() == null ? "available" : "unavailable");
    return b;
  }

  public State state() {
    return state;
  }

  /** Why the models failed to load, or null. */
  public String error() {
    return error;
  }

  public DownloadProgress progress() {
    return progress;
  }

  /** The default bundle's store. */
  public ModelStore store() {
    return stores.get(0);
  }

  /** The loaded bundles, the default first; a 503 problem while they are not ready. */
  public List<Bundle> bundles() {
    List<Bundle> b = bundles;
    if (!b.isEmpty()) {
      return b;
    }
    if (state == State.FAILED) {
      throw new SynthesisException.ModelFailed("the model could not be loaded: " + error);
    }
    throw new SynthesisException.ModelNotReady(
        "the model is "
            + state.name().toLowerCase(java.util.Locale.ROOT)
            + "; try again shortly (GET /health shows progress)",
        state == State.DOWNLOADING ? 30 : 5);
  }

  /** Names a request may use for the loaded bundles (bundle_name, then configured name). */
  public List<String> loadedNames() {
    List<String> names = new ArrayList<>();
    for (Bundle b : bundles) {
      names.add(b.name());
      if (!b.configured().equalsIgnoreCase(b.name())) {
        names.add(b.configured());
      }
    }
    return names;
  }

  public Bundle defaultBundle() {
    return bundles().get(0);
  }

  /** The bundle a request names (bundle_name or configured name), if loaded. */
  public Optional<Bundle> find(String model) {
    return bundles().stream().filter(b -> b.answersTo(model)).findFirst();
  }

  /** The bundle a request names; the default for null or blank; 400 for a name of none. */
  public Bundle bundle(String model) {
    if (model == null || model.isBlank()) {
      return defaultBundle();
    }
    return find(model.strip())
        .orElseThrow(
            () ->
                new SynthesisException.UnknownModel(
                    "no model bundle called '"
                        + ClientText.shown(model)
                        + "' is loaded; loaded: "
                        + bundles().stream().map(Bundle::name).toList()));
  }

  /** Null when cloning works with the default bundle, else why not. */
  public String cloningProblem() {
    if (store().cloningProblem() != null) {
      return store().cloningProblem();
    }
    List<Bundle> b = bundles;
    return b.isEmpty() ? "the model is not loaded yet" : b.get(0).cloningProblem();
  }

  @Override
  public void destroy() {
    closed = true;
    Thread t = loader;
    if (t != null && state != State.READY && state != State.FAILED) {
      t.interrupt();
    }
    bundles.forEach(b -> b.engine().close());
  }
}
