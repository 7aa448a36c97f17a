package dev.pockettts.server.bench;

import dev.pockettts.server.engine.GraphCheck;
import dev.pockettts.server.engine.Precision;
import java.nio.file.Path;

/**
 * Checks that the load-time graph rewrites give the published graphs' results on a model folder:
 * {@code java -jar target/pockettts-server-*.jar check-graphs <model-folder> [int8|fp32] [steps]}.
 * Prints the largest differences over {@code steps} (default 200) autoregressive steps at
 * temperature 0, and in the decoded audio. The rewritten graphs are cached beside the originals
 * (copy a read-only folder first if they should be kept).
 */
public final class GraphCheckCommand {

  private GraphCheckCommand() {}

  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("usage: check-graphs <model-folder> [int8|fp32] [steps]");
      System.exit(2);
    }
    Precision precision =
        args.length > 1 && args[1].equalsIgnoreCase("fp32") ? Precision.FP32 : Precision.INT8;
    int steps = args.length > 2 ? Integer.parseInt(args[2]) : 200;
    GraphCheck.Report r = GraphCheck.run(Path.of(args[0]), precision, steps);
    System.out.println(r.describe());
  }
}
