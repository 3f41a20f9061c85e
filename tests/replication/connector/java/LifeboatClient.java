import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * One JDBC connection held for the life of the process, driven line by line on stdin by the
 * lifeboat connector tests. Every answer ends with a line "END"; a failure is a line "ERR ...".
 *
 * Commands: Q sql | PREPARE insert-sql TAB select-sql | INSERT client n | WRITTEN client
 * | ID | DRIVER.
 */
public final class LifeboatClient {
    private static Connection conn;
    private static PreparedStatement inserts;
    private static PreparedStatement selects;

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        conn = DriverManager.getConnection(args[0], args[1], System.getenv("LIFEBOAT_PASSWORD"));
        out.println("READY");
        out.println("END");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            try {
                answer(line, out);
            } catch (SQLException e) {
                out.println("ERR " + e.getErrorCode() + " " + e.getSQLState() + " " + e.getMessage().replace('\n', ' '));
            }
            out.println("END");
        }
        conn.close();
    }

    private static void answer(String line, PrintStream out) throws Exception {
        int space = line.indexOf(' ');
        String command = space < 0 ? line : line.substring(0, space);
        String rest = space < 0 ? "" : line.substring(space + 1);
        switch (command) {
            case "Q" -> {
                try (Statement st = conn.createStatement()) {
                    if (st.execute(rest)) {
                        print(st.getResultSet(), out);
                    }
                }
            }
            case "PREPARE" -> {
                String[] sql = rest.split("\t");
                inserts = conn.prepareStatement(sql[0]);
                selects = conn.prepareStatement(sql[1]);
            }
            case "INSERT" -> {
                String[] parts = rest.split(" ");
                inserts.setString(1, parts[0]);
                inserts.setInt(2, Integer.parseInt(parts[1]));
                inserts.executeUpdate();
            }
            case "WRITTEN" -> {
                selects.setString(1, rest);
                print(selects.executeQuery(), out);
            }
            case "ID" -> out.println(threadId());
            case "DRIVER" -> out.println(conn.getMetaData().getDriverVersion());
            default -> out.println("ERR 0 HY000 unknown command " + command);
        }
    }

    /** The connection id from the handshake: MariaDbConnection (2.x) and Connection (3.x) differ. */
    private static long threadId() throws Exception {
        for (String name : new String[] {"getThreadId", "getServerThreadId"}) {
            try {
                Method method = conn.getClass().getMethod(name);
                return ((Number) method.invoke(conn)).longValue();
            } catch (NoSuchMethodException e) {
                // the other driver generation
            }
        }
        throw new IllegalStateException("this driver tells no thread id");
    }

    private static void print(ResultSet rows, PrintStream out) throws SQLException {
        try (rows) {
            int columns = rows.getMetaData().getColumnCount();
            while (rows.next()) {
                StringBuilder line = new StringBuilder("ROW");
                for (int i = 1; i <= columns; i++) {
                    String value = rows.getString(i);
                    line.append('\t').append(value == null ? "NULL" : value);
                }
                out.println(line);
            }
        }
    }
}
