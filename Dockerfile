# Build: ./mvnw package inside a JDK image
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn .mvn
COPY mvnw pom.xml ./
RUN ./mvnw -B -q dependency:go-offline
COPY src src
RUN ./mvnw -B -q package -DskipTests -Dspotless.check.skip=true -Djacoco.skip=true \
    && cp target/pockettts-server-*.jar /src/app.jar

# Run: a JRE, a non-root user, models and audio files on volumes
FROM eclipse-temurin:17-jre
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /app --uid 10001 tts
WORKDIR /app
COPY --from=build /src/app.jar /app/app.jar
RUN mkdir -p /app/models /app/voice /app/voices && chown -R tts /app
USER tts
ENV PORT=8000 MODELS_DIR=/app/models VOICE_DIR=/app/voice VOICES_DIR=/app/voices MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=7340032 GLIBC_TUNABLES=glibc.malloc.hugetlb=1
VOLUME ["/app/models", "/app/voice", "/app/voices"]
EXPOSE 8000 10200
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
ENTRYPOINT ["java", "-XX:+UseSerialGC", "-Xms64m", "-Xmx512m", "-XX:MaxDirectMemorySize=2g", "-XX:+ExitOnOutOfMemoryError", "-jar", "/app/app.jar"]
