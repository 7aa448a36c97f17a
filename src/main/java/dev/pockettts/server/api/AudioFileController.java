package dev.pockettts.server.api;

import dev.pockettts.server.audio.AudioFormat;
import dev.pockettts.server.storage.AudioFileStore;
import dev.pockettts.server.storage.AudioFiles;
import io.swagger.v3.oas.annotations.Operation;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpRange;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestMethod;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.context.request.ServletWebRequest;

/**
 * The {@code type=url} files at {@code /voice/<name>}: only names the store makes, only regular
 * files inside the folder (a link is never followed), with their content type, one byte range
 * ({@code Range}), validators and private caching. There is no listing.
 */
@RestController
class AudioFileController {

  private final AudioFiles files;

  AudioFileController(AudioFiles files) {
    this.files = files;
  }

  @Operation(summary = "A file made with type=url (byte ranges supported; no key needed)")
  @RequestMapping(
      path = "/voice/{name}",
      method = {RequestMethod.GET, RequestMethod.HEAD})
  void serve(
      @PathVariable("name") String name, HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    AudioFormat format = AudioFileStore.formatOf(name);
    AudioFiles.Stored file = format == null ? null : files.find(name);
    if (file == null) {
      throw new ApiException(
          HttpStatus.NOT_FOUND,
          "file-not-found",
          "File not found",
          "there is no audio file of that name; files are kept for VOICE_RETENTION");
    }
    long length = file.length();
    long modified = file.modified().toEpochMilli();
    String etag = file.etag();
    response.setHeader(HttpHeaders.CACHE_CONTROL, "private, max-age=3600");
    response.setHeader(HttpHeaders.ACCEPT_RANGES, "bytes");
    if (new ServletWebRequest(request, response).checkNotModified(etag, modified)) {
      return; // 304
    }
    long from = 0;
    long to = length - 1;
    HttpRange range = singleRange(request.getHeader(HttpHeaders.RANGE));
    if (range != null && length > 0 && ifRangeHolds(request, etag, modified)) {
      long start = range.getRangeStart(length);
      if (start >= length) {
        unsatisfiable(response, length);
      }
      from = start;
      to = Math.min(range.getRangeEnd(length), length - 1);
      response.setStatus(HttpStatus.PARTIAL_CONTENT.value());
      response.setHeader(HttpHeaders.CONTENT_RANGE, "bytes " + from + "-" + to + "/" + length);
    } else if (range != null && length == 0) {
      unsatisfiable(response, length);
    }
    response.setContentType(format.contentType());
    response.setContentLengthLong(to - from + 1);
    if ("HEAD".equals(request.getMethod())) {
      return;
    }
    OutputStream out = response.getOutputStream();
    files.copy(name, from, to, out);
    out.flush();
  }

  /**
   * The one byte range asked for; null when there is none, it is not valid syntax or asks for
   * several ranges: then the whole file is sent, as RFC 9110 allows.
   */
  private static HttpRange singleRange(String header) {
    if (header == null || header.isBlank()) {
      return null;
    }
    try {
      List<HttpRange> ranges = HttpRange.parseRanges(header);
      return ranges.size() == 1 ? ranges.get(0) : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** {@code If-Range}: a range applies only while the file is the one the client has. */
  private static boolean ifRangeHolds(HttpServletRequest request, String etag, long modified) {
    String ifRange = request.getHeader(HttpHeaders.IF_RANGE);
    if (ifRange == null) {
      return true;
    }
    if (ifRange.startsWith("\"") || ifRange.startsWith("W/")) {
      return ifRange.equals(etag);
    }
    try {
      return request.getDateHeader(HttpHeaders.IF_RANGE) / 1000 == modified / 1000;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static void unsatisfiable(HttpServletResponse response, long length) {
    HttpHeaders h = new HttpHeaders();
    h.set(HttpHeaders.CONTENT_RANGE, "bytes */" + length);
    throw new ApiException(
        HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
        "range-not-satisfiable",
        "Range not satisfiable",
        "the range starts past the end of the file, which has " + length + " bytes",
        h);
  }
}
