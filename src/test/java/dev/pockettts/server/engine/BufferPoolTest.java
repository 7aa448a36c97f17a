package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The buffer pool keeps one stream's buffers and frees what lay unused beyond that. */
class BufferPoolTest {

  private static void awaitIdleBytes(BufferPool pool, long bytes) throws InterruptedException {
    for (int i = 0; i < 200 && pool.idleBytes() != bytes; i++) {
      Thread.sleep(10);
    }
    assertThat(pool.idleBytes()).isEqualTo(bytes);
  }

  @Test
  void buffersGivenBackAreReusedMostRecentFirst() {
    BufferPool pool = new BufferPool(1 << 20);
    ByteBuffer a = pool.acquire(1000);
    ByteBuffer b = pool.acquire(1000);
    pool.release(a);
    pool.release(b);
    assertThat(pool.idleBytes()).isEqualTo(2000);
    assertThat(pool.acquire(1000)).isSameAs(b);
    assertThat(pool.acquire(1000)).isSameAs(a);
    assertThat(pool.acquire(1000)).isNotSameAs(a).isNotSameAs(b);
    assertThat(pool.idleBytes()).isZero();
  }

  @Test
  void whatLiesUnusedBeyondWhatItKeepsIsFreedAfterTheIdleTime() throws Exception {
    BufferPool pool = new BufferPool(2000, Duration.ofMillis(100));
    ByteBuffer[] taken = new ByteBuffer[5];
    for (int i = 0; i < taken.length; i++) {
      taken[i] = pool.acquire(1000);
    }
    for (ByteBuffer b : taken) {
      pool.release(b);
    }
    assertThat(pool.idleBytes()).isEqualTo(5000);
    // the oldest three go; the two given back last stay and are still whole buffers
    awaitIdleBytes(pool, 2000);
    ByteBuffer kept = pool.acquire(1000);
    assertThat(kept).isSameAs(taken[4]);
    kept.putInt(0, 42);
    assertThat(kept.getInt(0)).isEqualTo(42);
    assertThat(pool.acquire(1000)).isSameAs(taken[3]);
  }

  @Test
  void aBufferTakenAgainBeforeTheIdleTimeIsNotFreed() throws Exception {
    BufferPool pool = new BufferPool(0, Duration.ofMillis(200));
    ByteBuffer a = pool.acquire(4096);
    pool.release(a);
    ByteBuffer again = pool.acquire(4096);
    assertThat(again).isSameAs(a);
    Thread.sleep(400); // the trim scheduled by the release finds nothing to free
    again.putLong(8, 7L);
    assertThat(again.getLong(8)).isEqualTo(7L);
    pool.release(again);
    awaitIdleBytes(pool, 0);
  }

  @Test
  void trimNowFreesWhatItDoesNotKeepWithoutWaiting() {
    BufferPool pool = new BufferPool(1000, Duration.ofHours(1));
    ByteBuffer a = pool.acquire(1000);
    ByteBuffer b = pool.acquire(1000);
    ByteBuffer c = pool.acquire(1000);
    pool.release(a);
    pool.release(b);
    pool.release(c);
    pool.trimNow();
    assertThat(pool.idleBytes()).isEqualTo(1000);
    assertThat(pool.acquire(1000)).isSameAs(c);
  }
}
