package dev.pockettts.server;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** Entry point of the PocketTTS server. */
@SpringBootApplication
public class TtsApplication {

  public static void main(String[] args) {
    SpringApplication.run(TtsApplication.class, args);
  }
}
