package dev.pockettts.server.model;

/**
 * A file to fetch from a Hugging Face repository.
 *
 * @param repo owner/name
 * @param revision commit hash (pinned) or branch
 * @param path path inside the repository
 * @param localName file name on disk, relative to the model folder
 * @param size expected size in bytes, or -1 when not pinned
 * @param sha256 expected SHA-256 in hex, or null when not pinned (recorded on first download)
 * @param required whether the server cannot run without it
 */
public record RemoteFile(
    String repo,
    String revision,
    String path,
    String localName,
    long size,
    String sha256,
    boolean required) {

  public boolean pinned() {
    return sha256 != null;
  }
}
