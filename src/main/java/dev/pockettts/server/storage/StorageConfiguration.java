package dev.pockettts.server.storage;

import dev.pockettts.server.config.ServerSettings;
import java.time.Duration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/** Where the {@code type=url} files go: {@code VOICE_DIR}, or an S3 bucket ({@code STORAGE}). */
@Configuration(proxyBeanMethods = false)
public class StorageConfiguration {

  @Bean
  AudioFiles audioFiles(ServerSettings settings) {
    ServerSettings.Storage st = settings.storage();
    if (!st.s3()) {
      return new AudioFileStore(settings);
    }
    return new S3AudioFiles(client(st), st.presignedUrls() ? presigner(st) : null, settings);
  }

  /**
   * An S3 client for the settings: the SDK's standard credentials chain, path-style access where
   * asked (MinIO, Ceph), checksums only where the API requires them (many S3-compatible stores do
   * not take the SDK's newer default ones), and timeouts that let a request fail with a clear
   * answer when the store is unreachable.
   */
  public static S3Client client(ServerSettings.Storage st) {
    S3ClientBuilder b =
        S3Client.builder()
            .region(Region.of(st.region()))
            .credentialsProvider(DefaultCredentialsProvider.builder().build())
            .forcePathStyle(st.pathStyle())
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
            .httpClientBuilder(
                ApacheHttpClient.builder()
                    .connectionTimeout(Duration.ofSeconds(3))
                    .socketTimeout(Duration.ofSeconds(30)))
            .overrideConfiguration(o -> o.apiCallTimeout(Duration.ofMinutes(5)));
    if (st.endpoint() != null) {
      b.endpointOverride(st.endpoint());
    }
    return b.build();
  }

  private static S3Presigner presigner(ServerSettings.Storage st) {
    S3Presigner.Builder b =
        S3Presigner.builder()
            .region(Region.of(st.region()))
            .credentialsProvider(DefaultCredentialsProvider.builder().build())
            .serviceConfiguration(
                S3Configuration.builder().pathStyleAccessEnabled(st.pathStyle()).build());
    if (st.endpoint() != null) {
      b.endpointOverride(st.endpoint());
    }
    return b.build();
  }
}
