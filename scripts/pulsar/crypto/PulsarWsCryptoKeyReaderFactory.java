/*
 * The CryptoKeyReaderFactory that real Pulsar's WebSocket service uses in this project's CI
 * (cryptoKeyReaderFactoryClassName=pulsarws.ci.PulsarWsCryptoKeyReaderFactory). It reads PEM files
 * named public-key.<keyName> and private-key.<keyName> from the directory given by the system property
 * pulsarws.crypto.keysDir, the same layout as the embedded broker's --crypto-keys-dir. A key name
 * without a private-key file is one the service can encrypt for but not decrypt: consumers then need
 * cryptoFailureAction=CONSUME and decrypt themselves. Files are read on every request, so keys added
 * while Pulsar runs are used without a restart. Compiled by scripts/pulsar/start.sh with javac.
 */
package pulsarws.ci;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import org.apache.pulsar.client.api.CryptoKeyReader;
import org.apache.pulsar.client.api.EncryptionKeyInfo;
import org.apache.pulsar.websocket.CryptoKeyReaderFactory;

public class PulsarWsCryptoKeyReaderFactory implements CryptoKeyReaderFactory {
    static final String KEYS_DIR_PROPERTY = "pulsarws.crypto.keysDir";

    @Override
    public CryptoKeyReader create() {
        String dir = System.getProperty(KEYS_DIR_PROPERTY);
        if (dir == null || dir.isBlank()) {
            // Failing here stops the WebSocket service at start-up, which is what a missing key setup deserves.
            throw new IllegalStateException("system property " + KEYS_DIR_PROPERTY + " (the key directory) is not set");
        }
        if (!Files.isDirectory(Paths.get(dir))) {
            throw new IllegalStateException(KEYS_DIR_PROPERTY + "=" + dir + " is not a directory");
        }
        return new DirectoryKeyReader(dir);
    }

    /** Serializable (CryptoKeyReader extends Serializable), so it keeps the path as a String. */
    static final class DirectoryKeyReader implements CryptoKeyReader {
        private static final long serialVersionUID = 1L;
        private final String dir;

        DirectoryKeyReader(String dir) {
            this.dir = dir;
        }

        @Override
        public EncryptionKeyInfo getPublicKey(String keyName, Map<String, String> metadata) {
            return read("public-key." + keyName);
        }

        @Override
        public EncryptionKeyInfo getPrivateKey(String keyName, Map<String, String> metadata) {
            return read("private-key." + keyName);
        }

        /** Null for a missing file: Pulsar then fails the producer, or applies the consumer's crypto failure action. */
        private EncryptionKeyInfo read(String fileName) {
            Path path = Paths.get(dir, fileName);
            if (!Files.isRegularFile(path)) {
                return null;
            }
            try {
                return new EncryptionKeyInfo(Files.readAllBytes(path), null);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + path, e);
            }
        }
    }
}
